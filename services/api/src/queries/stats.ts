import { type ClickHouse, ident, layoutFor, p, type SqlFragment, sql, table } from '@auditstream/clickhouse';
import type { ClickHouseSettings } from '@clickhouse/client';
import { exactCounts, shownRowsOnly } from './exact-counts.js';
import { type EventQuery, eventsWhere, limitCount } from './scope-sql.js';

/**
 * Aggregates over events: distinct events, re-delivered copies and reused ids counted once. Top actors
 * and series in whole hours by action or tenant read the hourly rollup made exact (exact-counts.ts);
 * any other query counts uniqExact(event_id) over events' shown rows (shownRowsOnly). Either way an
 * event counts in the group of its shown row (identity.ts), as the search pages show it.
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
  const where = sql`${eventsWhere(caps, ch.database, query)} AND ${shownRowsOnly(ch.database, query)}`;
  const bucket = bucketExpr(layout, INTERVALS[options.interval]);
  const events = table(ch.database, 'events');
  const settings = options.settings ? { settings: options.settings } : {};
  const fromRollup = await rollupSeries(ch, caps, query, options);
  if (fromRollup) return fromRollup;
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

/** timeseries from the exact rollup: whole-hour intervals, grouped by nothing, action or tenant; else undefined. */
async function rollupSeries(
  ch: ClickHouse,
  caps: Awaited<ReturnType<ClickHouse['capabilities']>>,
  query: EventQuery,
  options: { interval: IntervalName; groupBy?: GroupBy | undefined; groups: number; settings?: ClickHouseSettings },
): Promise<TimeseriesPoint[] | undefined> {
  const seconds = INTERVALS[options.interval];
  if (seconds % 3600 !== 0 || (options.groupBy !== undefined && options.groupBy !== 'action' && options.groupBy !== 'tenant')) return undefined;
  const s = p.uint32(seconds);
  const byHour = sql`toUInt32(intDiv(toUInt32(hour), ${s}) * ${s}) AS bucket`;
  const byEvent = sql`toUInt32(${bucketExpr(layoutFor(caps), seconds)}) AS bucket`;
  const gCol = options.groupBy ? ident(GROUP_BY_COLUMNS[options.groupBy]) : undefined;
  const grouping = gCol
    ? { byHour: sql`${byHour}, toString(${gCol}) AS g`, byEvent: sql`${byEvent}, toString(${gCol}) AS g`, names: sql`bucket, g` }
    : { byHour, byEvent, names: sql`bucket` };
  const rows = await exactCounts(ch, caps, query, grouping, { operation: 'api_timeseries', settings: options.settings, tail: sql`ORDER BY ${grouping.names}` });
  if (!rows) return undefined;
  const points = rows.map((r) => ({ bucket: Number(r.bucket), group: gCol ? String(r.g) : null, count: Number(r.n) }));
  if (!gCol) return points;
  // The top `groups` values by events over the whole range (each event is in one bucket), then their series.
  const totals = new Map<string, number>();
  for (const pt of points) totals.set(pt.group as string, (totals.get(pt.group as string) ?? 0) + pt.count);
  const keep = new Set(
    [...totals]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .slice(0, options.groups)
      .map(([k]) => k),
  );
  return points.filter((pt) => keep.has(pt.group as string));
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
  const cols = TOP_DIMENSIONS[options.dimension];
  if (options.dimension === 'actor') {
    const names = sql`tenant_id, actor_id`;
    const rows = await exactCounts(
      ch,
      caps,
      query,
      { byHour: names, byEvent: names, names, where: sql`actor_id != ''` },
      { operation: 'api_top', settings: options.settings, tail: sql`ORDER BY n DESC, tenant_id, actor_id LIMIT ${limitCount(options.limit)}` },
    );
    if (rows) return rows.map((r) => ({ tenant: String(r.tenant_id), values: { actor_id: String(r.actor_id) }, count: Number(r.n) }));
  }
  const where = sql`${eventsWhere(caps, ch.database, query)} AND ${shownRowsOnly(ch.database, query)}`;
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
