import { AuditstreamError } from '@auditstream/core';
import { type Capabilities, type Layout, layoutFor } from './capabilities.js';
import type { ClickHouse, RequestOptions } from './client.js';
import { firstReceivedOrder } from './identity.js';
import { fromRow, parseClickHouseTime, type StoredEvent } from './rows.js';
import { eventColumnNames, LOOKUPS } from './schema.js';
import { ident, joinSql, p, type SqlFragment, sql, table, unsafeRaw } from './sql.js';

/**
 * Query helpers over audit.events. ReplacingMergeTree removes duplicate deliveries only when parts
 * merge, which is eventual, and several messages may carry one event_id (identity.ts), so EVERY
 * query here deduplicates by itself:
 * - counts and aggregates: uniqExact(event_id)           (countEvents, hourlyCountsByAction)
 * - row reads:             the first received row of each event_id: ORDER BY event_id, then
 *                          firstReceivedOrder, LIMIT 1 BY event_id (findEvents, getEvent); the
 *                          listing's own order is applied after, so it never picks the row
 * - lookups by actor/resource/IP on servers without skip indexes: `event_id IN (SELECT … FROM
 *   events_by_*)`, a set, so duplicates there do not matter, then LIMIT 1 BY as above.
 * FINAL is never used on events (it merges at read time, single-threaded on old servers); it is
 * used on the small tables where the latest version of a row matters (legal_holds, api_keys).
 */

/** Microseconds since the epoch, or a Date. Ranges are [from, to). */
export type TimeInput = Date | bigint | number;

export interface EventFilter {
  tenant_id: string;
  from: TimeInput;
  to: TimeInput;
  action?: string;
  actor_id?: string;
  resource_id?: string;
  resource_type?: string;
  actor_ip?: string;
  category?: string;
  outcome?: string;
}

function micros(t: TimeInput, field: string): bigint {
  if (t instanceof Date) {
    if (Number.isNaN(t.getTime())) throw new AuditstreamError('QUERY_INVALID', `${field} is not a valid date`, { field });
    return BigInt(t.getTime()) * 1000n;
  }
  if (typeof t === 'bigint') return t;
  if (Number.isSafeInteger(t)) return BigInt(t);
  throw new AuditstreamError('QUERY_INVALID', `${field} must be a Date or integer microseconds`, { field });
}

const secs = (us: bigint) => us / 1_000_000n - (us < 0n && us % 1_000_000n !== 0n ? 1n : 0n);

/** `[from, to)` on occurred_at, exact to the microsecond, and usable by the primary key. */
export function timeRange(layout: Layout, from: TimeInput, to: TimeInput, column = 'occurred_at'): SqlFragment {
  const f = micros(from, 'from');
  const t = micros(to, 'to');
  if (t <= f) throw new AuditstreamError('QUERY_INVALID', 'time range is empty: to must be after from', { field: 'to' });
  const col = ident(column);
  if (layout === 'modern') return sql`${col} >= ${p.dateTime64(f)} AND ${col} < ${p.dateTime64(t)}`;
  // Whole seconds for the index, then the exact µs bound.
  const fs = new Date(Number(secs(f)) * 1000);
  const ts = new Date(Number(secs(t)) * 1000);
  const exact = sql`(toUInt64(${col}) * 1000000 + ${ident('occurred_at_us')})`;
  return sql`${col} >= ${p.dateTime(fs)} AND ${col} <= ${p.dateTime(ts)} AND ${exact} >= ${p.uint64(f)} AND ${exact} < ${p.uint64(t)}`;
}

/** Whole-second superset of the range, for the lookup tables (no µs column there). */
function coarseRange(layout: Layout, from: TimeInput, to: TimeInput): SqlFragment {
  const f = micros(from, 'from');
  const t = micros(to, 'to');
  if (layout === 'modern') return sql`occurred_at >= ${p.dateTime64(f)} AND occurred_at < ${p.dateTime64(t)}`;
  return sql`occurred_at >= ${p.dateTime(new Date(Number(secs(f)) * 1000))} AND occurred_at <= ${p.dateTime(new Date(Number(secs(t)) * 1000))}`;
}

/** What every event query filters on; see eventConditions. */
export interface EventConditions {
  /** A condition on tenant_id, applied to audit.events and to a lookup table alike. */
  tenant: SqlFragment;
  from: TimeInput;
  to: TimeInput;
  /** Column = value for each defined entry (columns from the identifier allow-list). */
  equals: Readonly<Record<string, string | undefined>>;
  /** The read is of a table sorted by the filtered columns (a copy of events): no lookup table. */
  direct?: boolean;
}

/**
 * The conditions every event query shares, to AND together: the tenant condition, the range
 * [from, to), the equality filters, and on servers without skip indexes (18.16) a filter on
 * actor_id, resource_id (with resource_type when given) or actor_ip first reads event ids from
 * the lookup table sorted by that column (LOOKUPS). The API's scoped queries build on this too.
 */
export function eventConditions(caps: Capabilities, database: string, c: EventConditions): SqlFragment {
  const layout = layoutFor(caps);
  const parts: SqlFragment[] = [c.tenant, timeRange(layout, c.from, c.to)];
  for (const [col, v] of Object.entries(c.equals)) if (v !== undefined) parts.push(sql`${ident(col)} = ${v}`);
  if (!caps.skipIndexes && !c.direct) {
    const { actor_id: actorId, resource_id: resourceId, resource_type: resourceType, actor_ip: actorIp } = c.equals;
    // Narrow the read to the event ids found in the lookup table sorted by what is asked for.
    const lookup =
      actorId !== undefined
        ? { spec: LOOKUPS.actor, cond: sql`actor_id = ${actorId}` }
        : resourceId !== undefined
          ? {
              spec: LOOKUPS.resource,
              cond: resourceType !== undefined ? sql`resource_id = ${resourceId} AND resource_type = ${resourceType}` : sql`resource_id = ${resourceId}`,
            }
          : actorIp !== undefined
            ? { spec: LOOKUPS.ip, cond: sql`actor_ip = ${actorIp}` }
            : undefined;
    if (lookup) {
      parts.push(
        sql`event_id IN (SELECT event_id FROM ${table(database, lookup.spec.table)} WHERE ${c.tenant} AND ${lookup.cond} AND ${coarseRange(layout, c.from, c.to)})`,
      );
    }
  }
  return joinSql(parts, ' AND ');
}

/** The WHERE clause for a filter, picking lookup tables or skip-indexed columns per capabilities. */
export function eventsWhere(caps: Capabilities, database: string, filter: EventFilter): SqlFragment {
  if (typeof filter.tenant_id !== 'string' || filter.tenant_id === '')
    throw new AuditstreamError('QUERY_INVALID', 'tenant_id is required', { field: 'tenant_id' });
  return eventConditions(caps, database, {
    tenant: sql`tenant_id = ${filter.tenant_id}`,
    from: filter.from,
    to: filter.to,
    equals: {
      action: filter.action,
      category: filter.category,
      outcome: filter.outcome,
      actor_id: filter.actor_id,
      resource_id: filter.resource_id,
      resource_type: filter.resource_type,
      actor_ip: filter.actor_ip,
    },
  });
}

function selectList(layout: Layout): SqlFragment {
  return joinSql(
    eventColumnNames(layout).map((c) => sql`${ident(c)}`),
    ', ',
  );
}

function orderBy(layout: Layout, order: 'asc' | 'desc'): SqlFragment {
  const dir = unsafeRaw(order === 'asc' ? 'ASC' : 'DESC');
  return layout === 'modern' ? sql`occurred_at ${dir}, event_id ${dir}` : sql`occurred_at ${dir}, occurred_at_us ${dir}, event_id ${dir}`;
}

export interface FindOptions {
  limit?: number;
  order?: 'asc' | 'desc';
}

/** Events matching the filter, newest first by default, each event once (LIMIT 1 BY event_id). */
export async function findEvents(ch: ClickHouse, filter: EventFilter, options: FindOptions & RequestOptions = {}): Promise<StoredEvent[]> {
  const caps = await ch.capabilities();
  const layout = layoutFor(caps);
  const limit = options.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) throw new AuditstreamError('QUERY_INVALID', 'limit must be 1..100000', { field: 'limit' });
  const q = sql`SELECT ${selectList(layout)} FROM (SELECT ${selectList(layout)} FROM ${table(ch.database, 'events')}
WHERE ${eventsWhere(caps, ch.database, filter)}
ORDER BY event_id, ${firstReceivedOrder(layout)}
LIMIT 1 BY event_id)
ORDER BY ${orderBy(layout, options.order ?? 'desc')}
LIMIT ${unsafeRaw(String(limit))}`; // validated integer: 18.16 takes only a literal after LIMIT
  const rows = await ch.queryRows<Record<string, unknown>>(q, { operation: 'find_events', ...options });
  return rows.map(fromRow);
}

/** One event by id within a tenant (any time), or undefined. */
export async function getEvent(ch: ClickHouse, tenantId: string, eventId: string, options: RequestOptions = {}): Promise<StoredEvent | undefined> {
  const layout = layoutFor(await ch.capabilities());
  const q = sql`SELECT ${selectList(layout)} FROM ${table(ch.database, 'events')}
WHERE tenant_id = ${tenantId} AND event_id = ${p.uuid(eventId)}
ORDER BY ${firstReceivedOrder(layout)}
LIMIT 1`;
  const rows = await ch.queryRows<Record<string, unknown>>(q, { operation: 'get_event', ...options });
  return rows[0] ? fromRow(rows[0]) : undefined;
}

/** Distinct events matching the filter: uniqExact(event_id), exact whatever the merge state. */
export async function countEvents(ch: ClickHouse, filter: EventFilter, options: RequestOptions = {}): Promise<number> {
  const caps = await ch.capabilities();
  const q = sql`SELECT uniqExact(event_id) AS n FROM ${table(ch.database, 'events')} WHERE ${eventsWhere(caps, ch.database, filter)}`;
  const rows = await ch.queryRows<{ n: string | number }>(q, { operation: 'count_events', ...options });
  return Number(rows[0]?.n ?? 0);
}

export interface HourlyCount {
  hour: Date;
  action: string;
  count: number;
}

/** Distinct events per hour and action in the range (uniqExact per group). */
export async function hourlyCountsByAction(ch: ClickHouse, filter: EventFilter, options: RequestOptions = {}): Promise<HourlyCount[]> {
  const caps = await ch.capabilities();
  const q = sql`SELECT toString(toStartOfHour(occurred_at)) AS hour, action, uniqExact(event_id) AS n
FROM ${table(ch.database, 'events')}
WHERE ${eventsWhere(caps, ch.database, filter)}
GROUP BY hour, action
ORDER BY hour, action`;
  const rows = await ch.queryRows<{ hour: string; action: string; n: string | number }>(q, { operation: 'hourly_counts', ...options });
  return rows.map((r) => ({ hour: new Date(Number(parseClickHouseTime(r.hour) / 1000n)), action: r.action, count: Number(r.n) }));
}

/** Raw row count including not-yet-merged duplicates: for tests and diagnostics only. */
export async function rawEventRowCount(ch: ClickHouse, tenantId: string): Promise<number> {
  const rows = await ch.queryRows<{ n: string | number }>(sql`SELECT count() AS n FROM ${table(ch.database, 'events')} WHERE tenant_id = ${tenantId}`, {
    operation: 'raw_count',
  });
  return Number(rows[0]?.n ?? 0);
}
