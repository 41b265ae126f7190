import { type ClickHouse, ident, layoutFor, p, type SqlFragment, sql, table } from '@auditstream/clickhouse';
import type { ClickHouseSettings } from '@clickhouse/client';
import { type EventQuery, eventsWhere, limitCount } from './scope-sql.js';

/**
 * Aggregates over events. Every count is uniqExact(event_id): re-delivered copies of an event
 * not yet merged away count once (the storage module's aggregate dedup).
 */

/** Dimensions a timeseries may be grouped by: API name → column (an allow-list; nothing else reaches SQL). */
export const GROUP_BY_COLUMNS = {
  action: 'action',
  category: 'category',
  outcome: 'outcome',
  severity: 'severity',
  actor_type: 'actor_type',
  service: 'service',
  resource_type: 'resource_type',
  tenant: 'tenant_id',
} as const;
export type GroupBy = keyof typeof GROUP_BY_COLUMNS;

/** Interval names → seconds. */
export const INTERVALS = { '1m': 60, '5m': 300, '15m': 900, '1h': 3600, '6h': 21_600, '1d': 86_400 } as const;
export type IntervalName = keyof typeof INTERVALS;

export interface TimeseriesPoint {
  /** Bucket start, Unix seconds (UTC, aligned to multiples of the interval). */
  bucket: number;
  group: string | null;
  count: number;
}

function bucketExpr(layout: ReturnType<typeof layoutFor>, seconds: number): SqlFragment {
  const secs = layout === 'modern' ? sql`toUInt32(toDateTime(occurred_at))` : sql`toUInt32(occurred_at)`;
  return sql`intDiv(${secs}, ${p.uint32(seconds)}) * ${p.uint32(seconds)}`;
}

export async function timeseries(
  ch: ClickHouse,
  query: EventQuery,
  options: { interval: IntervalName; groupBy?: GroupBy | undefined; groups: number; settings?: ClickHouseSettings },
): Promise<TimeseriesPoint[]> {
  const caps = await ch.capabilities();
  const layout = layoutFor(caps);
  const where = eventsWhere(caps, ch.database, query);
  const bucket = bucketExpr(layout, INTERVALS[options.interval]);
  const events = table(ch.database, 'events');
  const settings = options.settings ? { settings: options.settings } : {};
  if (!options.groupBy) {
    const q = sql`SELECT ${bucket} AS bucket, uniqExact(event_id) AS n FROM ${events} WHERE ${where} GROUP BY bucket ORDER BY bucket`;
    const rows = await ch.queryRows<{ bucket: number | string; n: number | string }>(q, { operation: 'api_timeseries', ...settings });
    return rows.map((r) => ({ bucket: Number(r.bucket), group: null, count: Number(r.n) }));
  }
  const col = ident(GROUP_BY_COLUMNS[options.groupBy]);
  // The top `groups` values by distinct events over the whole range, then their series.
  const q = sql`SELECT ${bucket} AS bucket, toString(${col}) AS g, uniqExact(event_id) AS n
FROM ${events}
WHERE ${where} AND ${col} IN (SELECT ${col} FROM ${events} WHERE ${where} GROUP BY ${col} ORDER BY uniqExact(event_id) DESC, ${col} LIMIT ${limitCount(options.groups)})
GROUP BY bucket, g
ORDER BY bucket, g`;
  const rows = await ch.queryRows<{ bucket: number | string; g: string; n: number | string }>(q, { operation: 'api_timeseries', ...settings });
  return rows.map((r) => ({ bucket: Number(r.bucket), group: r.g, count: Number(r.n) }));
}

/** Top-N dimensions: API name → the columns that identify a value (tenant first: ids are per tenant). */
export const TOP_DIMENSIONS = {
  actor: ['actor_id'],
  resource: ['resource_type', 'resource_id'],
  ip: ['actor_ip'],
} as const;
export type TopDimension = keyof typeof TOP_DIMENSIONS;

export interface TopEntry {
  tenant: string;
  values: Record<string, string>;
  count: number;
}

export async function top(
  ch: ClickHouse,
  query: EventQuery,
  options: { dimension: TopDimension; limit: number; settings?: ClickHouseSettings },
): Promise<TopEntry[]> {
  const caps = await ch.capabilities();
  const where = eventsWhere(caps, ch.database, query);
  const cols = TOP_DIMENSIONS[options.dimension];
  const colList = cols.map((c) => ident(c));
  // '' means "no actor/resource/ip": never a top value.
  const nonEmpty = sql`${ident(cols[cols.length - 1] as string)} != ''`;
  const groupCols = [sql`tenant_id`, ...colList.map((c) => sql`${c}`)];
  const group = groupCols.reduce((acc, c, i) => (i === 0 ? c : sql`${acc}, ${c}`));
  const q = sql`SELECT ${group}, uniqExact(event_id) AS n
FROM ${table(ch.database, 'events')}
WHERE ${where} AND ${nonEmpty}
GROUP BY ${group}
ORDER BY n DESC, ${group}
LIMIT ${limitCount(options.limit)}`;
  const rows = await ch.queryRows<Record<string, string | number>>(q, { operation: 'api_top', ...(options.settings ? { settings: options.settings } : {}) });
  return rows.map((r) => ({
    tenant: String(r.tenant_id),
    values: Object.fromEntries(cols.map((c) => [c, String(r[c] ?? '')])),
    count: Number(r.n),
  }));
}
