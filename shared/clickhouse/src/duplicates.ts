import type { Layout } from './capabilities.js';
import type { ClickHouse, RequestOptions } from './client.js';
import type { EventRow } from './rows.js';
import { ROW_COUNTS } from './schema.js';
import { database, joinSql, p, render, type SqlFragment, sql, unsafeRaw } from './sql.js';

/**
 * Exact event counts from a row-count rollup (migration 012). events_hourly counts inserted ROWS per
 * (tenant, hour, action, actor); an event is counted once as queried (identity.ts: its first received
 * row), so the exact count of a group is its rows minus every row of an event id that is not the
 * shown one. Those rows are known cheaply only for the ids stored more than once, which this module
 * records at write time:
 * - event_id_rows: every inserted row's (id, group, first-received key), SummingMergeTree(rows), fed by
 *   a view on events: a re-delivered copy collapses into `rows` = 2 instead of away, so the per-id
 *   count is the rollup's, and its sorting key starts with the id's UUIDv7 milliseconds (18.16
 *   compares UUIDs by their second half first, so ids of one batch are not near each other by id);
 * - event_id_dups: the rows of event_id_rows of the ids with ≥ 2 rows, copied after each insert by
 *   recordDuplicates, a ReplacingMergeTree(rows) (a re-check writes the grown count; reads take max).
 * Every insert writes before it checks, so of two concurrent inserts of one id the later check sees
 * both rows; an insert whose check failed throws, its batch is not committed, and its re-delivery
 * (a copy, so an id with ≥ 2 rows) checks again.
 */

/** Columns of event_id_rows and event_id_dups (event_id_rows adds id_ms first). */
export const COUNT_KEY_COLUMNS = 'tenant_id, event_id, hour, action, actor_id, received_ms, kafka_topic, kafka_partition, kafka_offset';

/** Columns of event_id_rows, in table order (as rowCountsSelect returns them). */
export const ROW_COUNT_COLUMNS = 'tenant_id, id_ms, event_id, hour, action, actor_id, received_ms, kafka_topic, kafka_partition, kafka_offset, rows';

/** The id's UUIDv7 milliseconds (its first 48 bits) as the server computes them. */
export const ID_MS_SQL = 'intDiv(reinterpretAsUInt64(reverse(substring(UUIDStringToNum(toString(event_id)), 1, 8))), 65536)';

/** SELECT of event_id_rows' columns from audit.events rows (the view's and the backfill's), per layout. */
export function rowCountsSelect(db: string, layout: Layout): string {
  const receivedMs = layout === 'modern' ? 'toUInt64(toUnixTimestamp64Milli(received_at))' : 'toUInt64(received_at) * 1000 + received_at_ms';
  return `SELECT tenant_id, ${ID_MS_SQL} AS id_ms, event_id, toStartOfHour(occurred_at) AS hour, action, actor_id, ${receivedMs} AS received_ms, kafka_topic, kafka_partition, kafka_offset, count() AS rows
FROM ${db}.events GROUP BY tenant_id, id_ms, event_id, hour, action, actor_id, received_ms, kafka_topic, kafka_partition, kafka_offset`;
}

/**
 * INSERT … SELECT copying every row of each id with ≥ 2 rows (restricted by `where`, a condition on
 * event_id_rows' key) into event_id_dups. GLOBAL IN: on a cluster both reads go through the
 * Distributed table (an id's rows may sit on several shards).
 */
function copyDuplicates(db: SqlFragment | ReturnType<typeof database>, where: SqlFragment): SqlFragment {
  const rows = sql`${db}.${unsafeRaw(ROW_COUNTS.rows)}`;
  const key = unsafeRaw(COUNT_KEY_COLUMNS);
  return sql`INSERT INTO ${db}.${unsafeRaw(ROW_COUNTS.dups)} (${key}, rows)
SELECT ${key}, sum(rows) AS rows FROM ${rows}
WHERE ${where} AND (tenant_id, event_id) GLOBAL IN (SELECT tenant_id, event_id FROM ${rows} WHERE ${where} GROUP BY tenant_id, event_id HAVING sum(rows) > 1)
GROUP BY ${key}`;
}

/** The one-off scan (migration 012's backfill, bulk loaders): every id stored more than once. */
export function recordAllDuplicatesSql(db: string): string {
  return render(copyDuplicates(unsafeRaw(db), sql`1`), { queryParams: false }).query;
}

const GAP_MS = 60_000;
const MAX_RANGES = 32;

/** The UUIDv7 milliseconds of an id (any UUID gives a number; v4 ids just spread out). */
export function idMillis(id: string): number {
  return Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}

/** The id_ms ranges covering the batch's ids: runs of ids less than a minute apart. */
export function idRanges(ids: readonly string[]): [number, number][] {
  const ms = [...new Set(ids.map(idMillis))].sort((a, b) => a - b);
  const ranges: [number, number][] = [];
  for (const m of ms) {
    const last = ranges.at(-1);
    if (last && m - last[1] <= GAP_MS) last[1] = m;
    else ranges.push([m, m]);
  }
  return ranges;
}

/**
 * After an insert of `rows` into events: records the ids among them (and any other id in the same
 * narrow id_ms ranges) that now have ≥ 2 rows. One statement, reading the batch's key ranges of
 * event_id_rows twice.
 */
export async function recordDuplicates(ch: ClickHouse, rows: readonly EventRow[], options: RequestOptions = {}): Promise<void> {
  if (rows.length === 0) return;
  const tenants = [...new Set(rows.map((r) => r.tenant_id))];
  const ranges = idRanges(rows.map((r) => r.event_id));
  // Many scattered ids (not UUIDv7, or re-delivered old ones): the exact id_ms values instead of ranges.
  const idCond =
    ranges.length <= MAX_RANGES
      ? sql`(${joinSql(
          ranges.map(([a, b]) => sql`id_ms BETWEEN ${p.uint64(a)} AND ${p.uint64(b)}`),
          ' OR ',
        )})`
      : sql`id_ms IN (${joinSql(
          [...new Set(rows.map((r) => idMillis(r.event_id)))].map((m) => sql`${p.uint64(m)}`),
          ', ',
        )})`;
  const where = sql`tenant_id IN (${joinSql(
    tenants.map((t) => sql`${t}`),
    ', ',
  )}) AND ${idCond}`;
  await ch.command(copyDuplicates(database(ch.database), where), { ...options, operation: 'record_duplicates' });
}
