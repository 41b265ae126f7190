import { type ClickHouse, LOOKUPS, p, ROLLUP, type SqlFragment, sql, table } from '@auditstream/clickhouse';
import type { ClickHouseSettings } from '@clickhouse/client';
import { type EventQuery, tenantCondition } from './scope-sql.js';

const HOUR_US = 3_600_000_000n;
const floorHour = (us: bigint) => (us / HOUR_US) * HOUR_US - (us < 0n && us % HOUR_US !== 0n ? HOUR_US : 0n);
const asDateTime = (us: bigint) => new Date(Number(us / 1000n));

/** A narrower [from, to) (µs) of an event query's range. */
export interface TimeWindow {
  from: bigint;
  to: bigint;
}

/**
 * Stored rows per hour for the query's tenant scope and range, from the cheapest table that can
 * count them: the lookup table of a resource or IP filter (servers without skip indexes), else
 * the hourly rollup (by action and actor when those are filtered). Rows, not events: copies and
 * rows failing the query's other filters are counted too. Undefined when no table applies.
 */
async function rowsPerHour(ch: ClickHouse, q: EventQuery, from: bigint, to: bigint, settings?: ClickHouseSettings): Promise<Map<bigint, number> | undefined> {
  const caps = await ch.capabilities();
  const tenant = tenantCondition(q.scope);
  const lo = p.dateTime(asDateTime(floorHour(from)));
  const hi = p.dateTime(asDateTime(to));
  let query: SqlFragment;
  if (q.resource_id !== undefined || q.source_ip !== undefined) {
    if (caps.skipIndexes) return undefined; // no lookup tables; the bloom filters serve the read
    const [spec, cond] =
      q.resource_id !== undefined
        ? [
            LOOKUPS.resource,
            q.resource_type !== undefined ? sql`resource_id = ${q.resource_id} AND resource_type = ${q.resource_type}` : sql`resource_id = ${q.resource_id}`,
          ]
        : [LOOKUPS.ip, sql`actor_ip = ${q.source_ip as string}`];
    query = sql`SELECT toUInt32(toStartOfHour(occurred_at)) AS h, count() AS n FROM ${table(ch.database, spec.table)}
WHERE ${tenant} AND ${cond} AND occurred_at >= ${lo} AND occurred_at < ${hi} GROUP BY h`;
  } else {
    const action = q.action !== undefined ? sql` AND action = ${q.action}` : sql``;
    const actor = q.actor_id !== undefined ? sql` AND actor_id = ${q.actor_id}` : sql``;
    query = sql`SELECT toUInt32(hour) AS h, sum(rows) AS n FROM ${table(ch.database, ROLLUP.table)}
WHERE ${tenant} AND hour >= ${lo} AND hour < ${hi}${action}${actor} GROUP BY h`;
  }
  const rows = await ch.queryRows<{ h: number | string; n: number | string }>(query, { operation: 'api_search_window', ...(settings ? { settings } : {}) });
  return new Map(rows.map((r) => [BigInt(r.h) * 1_000_000n, Number(r.n)]));
}

/**
 * Where a page of `want` events most likely is: the fewest whole hours at the listing's start
 * (the newest for `desc`) holding at least `want` rows by rowsPerHour, clipped to the range (and
 * to the cursor). ClickHouse 18.16 reads every row of the range for `ORDER BY … LIMIT` (no
 * read-in-order), so a page of the newest 100 of 500,000 events reads the last hour, not the day.
 * The counts only choose the window: pageKeys runs the exact query in it and continues over the
 * rest of the range when it held fewer events (copies, other filters, a stale count). Undefined:
 * read the whole range.
 */
export async function searchWindow(
  ch: ClickHouse,
  q: EventQuery,
  o: { order: 'asc' | 'desc'; want: number; after?: { t: bigint } | undefined; settings?: ClickHouseSettings | undefined },
): Promise<TimeWindow | undefined> {
  let from = q.from;
  let to = q.to;
  if (o.after) {
    if (o.order === 'desc' && o.after.t + 1n < to) to = o.after.t + 1n;
    if (o.order === 'asc' && o.after.t > from) from = o.after.t;
  }
  if (to - from <= HOUR_US) return undefined;
  const counts = await rowsPerHour(ch, q, from, to, o.settings);
  if (!counts) return undefined;
  const hours = [...counts.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (o.order === 'desc') hours.reverse();
  let sum = 0;
  for (const h of hours) {
    sum += counts.get(h) ?? 0;
    if (sum < o.want) continue;
    if (o.order === 'desc') return h > from ? { from: h, to } : undefined;
    const end = h + HOUR_US;
    return end < to ? { from, to: end } : undefined;
  }
  return undefined;
}
