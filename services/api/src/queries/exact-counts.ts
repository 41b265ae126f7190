import { type Capabilities, type ClickHouse, joinSql, p, ROLLUP, ROW_COUNTS, type SqlFragment, sql, table, unsafeRaw } from '@auditstream/clickhouse';
import type { ClickHouseSettings } from '@clickhouse/client';
import { type EventQuery, eventsWhere, tenantCondition } from './scope-sql.js';

/**
 * Exact distinct-event counts from the hourly row-count rollup (migration 011's events_hourly, made
 * exact by migration 012, `duplicates.ts` of the storage module). An event counts once, in the group
 * of its shown row (identity.ts: the first received), so per group:
 *   count = rollup rows − rows of ids stored more than once + their shown rows
 * over the whole hours of the range, plus the partial hours at its edges read from events (distinct
 * ids not stored twice, and the shown rows of those that are; rollupPlan). Only the rollup's key is covered:
 * tenant, hour, action and actor; a query with any other filter returns undefined (the caller runs
 * the exact query over events).
 */

const HOUR_US = 3_600_000_000n;
const floorHour = (us: bigint) => (us / HOUR_US) * HOUR_US;
const asDateTime = (us: bigint) => new Date(Number(us / 1000n));

const KEY = unsafeRaw('tenant_id, event_id, hour, action, actor_id, received_ms, kafka_topic, kafka_partition, kafka_offset');
const FIRST_RECEIVED = unsafeRaw('(received_ms, kafka_topic, kafka_partition, kafka_offset)');

/** Every row of the ids stored more than once (a re-check may have written a grown count: the max is current). */
function dupRowsSql(db: string, tenant: SqlFragment): SqlFragment {
  return sql`SELECT ${KEY}, max(rows) AS rows FROM ${table(db, ROW_COUNTS.dups)} WHERE ${tenant} GROUP BY ${KEY}`;
}

/** Each such id's shown row (identity.ts, the first received): its group `s` and its Kafka message `k`. */
function shownSql(db: string, tenant: SqlFragment): SqlFragment {
  return sql`SELECT tenant_id, event_id, argMin((hour, action, actor_id), ${FIRST_RECEIVED}) AS s, argMin((kafka_topic, kafka_partition, kafka_offset), ${FIRST_RECEIVED}) AS k
FROM (${dupRowsSql(db, tenant)}) GROUP BY tenant_id, event_id`;
}

/**
 * A condition on events rows: the row is its event's shown row, or its id was stored once. With it a
 * count over events puts each event in the group of its shown row, as the rollup's counts do
 * (read from event_id_dups, small: one row per stored row of an id stored more than once).
 */
export function shownRowsOnly(db: string, q: EventQuery): SqlFragment {
  const tenant = tenantCondition(q.scope);
  return sql`((tenant_id, event_id) NOT IN (SELECT tenant_id, event_id FROM ${table(db, ROW_COUNTS.dups)} WHERE ${tenant})
    OR (tenant_id, event_id, (kafka_topic, kafka_partition, kafka_offset)) IN (SELECT tenant_id, event_id, k FROM (${shownSql(db, tenant)})))`;
}

/** The filters the rollup can apply (besides scope and range). */
const ROLLUP_FILTERS = new Set(['scope', 'from', 'to', 'action', 'actor_id']);

/** A range in µs, [from, to). */
type Span = [bigint, bigint];

/**
 * How the rollup answers the query, or undefined when it cannot (other filters, or no whole hour
 * inside the range): the whole hours [lo, hi) from the rollup, plus the partial hours at the edges
 * counted from events (`add`). An edge longer than half an hour is counted as its whole hour from
 * the rollup minus the rest of that hour read from events (`sub`): a range ending "now" or at the
 * last millisecond of a day reads a few minutes of events instead of most of an hour.
 */
export function rollupPlan(q: EventQuery): { lo: bigint; hi: bigint; add: Span[]; sub: Span[] } | undefined {
  for (const [k, v] of Object.entries(q)) if (v !== undefined && !ROLLUP_FILTERS.has(k)) return undefined;
  if (q.from < 0n) return undefined;
  let lo = floorHour(q.from) === q.from ? q.from : floorHour(q.from) + HOUR_US;
  let hi = floorHour(q.to);
  if (lo >= hi) return undefined;
  const add: Span[] = [];
  const sub: Span[] = [];
  if (q.from < lo) {
    if (lo - q.from > HOUR_US / 2n) {
      sub.push([lo - HOUR_US, q.from]);
      lo -= HOUR_US;
    } else add.push([q.from, lo]);
  }
  if (hi < q.to) {
    if (q.to - hi > HOUR_US / 2n) {
      sub.push([q.to, hi + HOUR_US]);
      hi += HOUR_US;
    } else add.push([hi, q.to]);
  }
  return { lo, hi, add, sub };
}

/** A group: its columns' expressions over the rollup-shaped sources (hour, action, actor_id, tenant_id) and over events. */
export interface Grouping {
  /** `expr AS name, …` over hour/action/actor_id/tenant_id. */
  byHour: SqlFragment;
  /** The same names over events' columns. */
  byEvent: SqlFragment;
  /** The names, comma-separated. */
  names: SqlFragment;
  /** An extra condition on the rows (e.g. a non-empty actor), valid in every source. */
  where?: SqlFragment;
}

/**
 * Exact counts per group over the query's range, or undefined when the rollup cannot answer
 * (rollupPlan). Groups with no events are left out.
 */
export async function exactCounts(
  ch: ClickHouse,
  caps: Capabilities,
  q: EventQuery,
  g: Grouping,
  o: { operation: string; settings?: ClickHouseSettings | undefined; tail?: SqlFragment },
): Promise<Record<string, string | number>[] | undefined> {
  const hours = rollupPlan(q);
  if (!hours) return undefined;
  const db = ch.database;
  const tenant = tenantCondition(q.scope);
  const extra = g.where ? sql` AND ${g.where}` : sql``;
  const filters = sql`${q.action !== undefined ? sql` AND action = ${q.action}` : sql``}${q.actor_id !== undefined ? sql` AND actor_id = ${q.actor_id}` : sql``}${extra}`;
  const inHours = sql`hour >= ${p.dateTime(asDateTime(hours.lo))} AND hour < ${p.dateTime(asDateTime(hours.hi))}`;
  const dupRows = dupRowsSql(db, tenant);
  const shown = shownSql(db, tenant);
  const parts: SqlFragment[] = [
    sql`SELECT ${g.byHour}, toInt64(sum(rows)) AS n FROM ${table(db, ROLLUP.table)} WHERE ${tenant} AND ${inHours}${filters} GROUP BY ${g.names}`,
    sql`SELECT ${g.byHour}, -toInt64(sum(rows)) AS n FROM (${dupRows}) WHERE ${inHours}${filters} GROUP BY ${g.names}`,
    sql`SELECT ${g.byHour}, toInt64(count()) AS n FROM (SELECT tenant_id, s.1 AS hour, s.2 AS action, s.3 AS actor_id FROM (${shown}))
WHERE ${inHours}${filters} GROUP BY ${g.names}`,
  ];
  // Edges from events' shown rows: added, or subtracted from a whole hour counted above.
  for (const [spans, sign] of [
    [hours.add, sql``],
    [hours.sub, sql`-`],
  ] as const) {
    if (spans.length === 0) continue;
    const ranges = spans.map(([from, to]) => sql`(${eventsWhere(caps, db, { ...q, from, to })})`);
    parts.push(sql`SELECT ${g.byEvent}, ${sign}toInt64(uniqExact(event_id)) AS n FROM ${table(db, 'events')}
WHERE (${joinSql(ranges, ' OR ')})${extra} AND ${shownRowsOnly(db, q)}
GROUP BY ${g.names}`);
  }
  const query = sql`SELECT ${g.names}, sum(n) AS n FROM (${joinSql(parts, '\nUNION ALL\n')})
GROUP BY ${g.names} HAVING n > 0${o.tail ? sql`\n${o.tail}` : sql``}`;
  return ch.queryRows<Record<string, string | number>>(query, { operation: o.operation, ...(o.settings ? { settings: o.settings } : {}) });
}
