import { type ClickHouse, firstReceivedOrder, joinSql, layoutFor, p, RESOURCE_ROWS, type SqlFragment, sql, table, timeRange } from '@auditstream/clickhouse';
import type { ClickHouseSettings } from '@clickhouse/client';
import { type EventQuery, tenantCondition } from './scope-sql.js';

/**
 * Search pages of one resource read events_by_resource_rows (migration 014: the rows of events with
 * a resource, chain columns left out, sorted by tenant, resource, time), where the resource's rows
 * are contiguous, instead of 100 scattered granules of every column of events. Keys and rows are
 * read there with the same queries as from events; what the copy cannot tell alone is whether an
 * event id also has a row under ANOTHER resource that was received first (a reused event_id, an
 * event_id_conflict): that row is the one every query shows (identity.ts), so the page's first
 * received message per id is read from events (a few narrow columns of the page's ids) and the page
 * is read from events as before when any differs. Same events, rows, order and cursors as events.
 */
export const RESOURCE_ROWS_MIGRATION = '014_events_by_resource_rows';

/** How long a "not migrated yet" answer is kept before asking again (an applied migration is kept for good). */
const RECHECK_MS = 30_000;
const ready = new WeakMap<ClickHouse, { ok: boolean; at: number }>();

/**
 * Whether the copy can answer this query: a resource id is filtered on, and migration 014 is recorded
 * as applied (its backfill is done: the migration is recorded after its last statement).
 */
export async function resourceRowsApply(ch: ClickHouse, query: EventQuery, settings?: ClickHouseSettings): Promise<boolean> {
  if (query.resource_id === undefined || query.resource_id === '') return false; // the copy holds rows with a resource only
  const known = ready.get(ch);
  if (known && (known.ok || Date.now() - known.at < RECHECK_MS)) return known.ok;
  const rows = await ch.queryRows<{ n: number | string }>(
    sql`SELECT count() AS n FROM ${table(ch.database, 'schema_migrations')} WHERE id = ${RESOURCE_ROWS_MIGRATION}`,
    { operation: 'api_search_source', ...(settings ? { settings } : {}) },
  );
  const ok = Number(rows[0]?.n ?? 0) > 0;
  ready.set(ch, { ok, at: Date.now() });
  return ok;
}

/** The resource filter of a query on the copy's sorting key (resource_id, then resource_type). */
export function resourceCondition(query: EventQuery): SqlFragment {
  const id = sql`resource_id = ${query.resource_id as string}`;
  return query.resource_type !== undefined ? sql`${id} AND resource_type = ${query.resource_type}` : id;
}

/** The copy as a source of page keys and rows. */
export const RESOURCE_SOURCE = { table: RESOURCE_ROWS.table, direct: true } as const;

/**
 * The Kafka message (`topic|partition|offset`) of the row each id shows: the first received of the
 * id's rows in events within the scope and [lo, hi] (µs), by the storage module's rule. Reads the id
 * column of that span and a few narrow columns of the granules holding the ids, never the wide ones.
 */
export async function shownMessages(
  ch: ClickHouse,
  scope: EventQuery['scope'],
  ids: readonly string[],
  lo: bigint,
  hi: bigint,
  settings?: ClickHouseSettings,
): Promise<Map<string, string>> {
  const layout = layoutFor(await ch.capabilities());
  const list = joinSql(
    ids.map((id) => sql`${p.uuid(id)}`),
    ', ',
  );
  const rows = await ch.queryRows<{ eid: string; kafka_topic: string; kafka_partition: number | string; kafka_offset: number | string }>(
    sql`SELECT toString(event_id) AS eid, kafka_topic, kafka_partition, toString(kafka_offset) AS kafka_offset FROM ${table(ch.database, 'events')}
PREWHERE event_id IN (${list})
WHERE ${tenantCondition(scope)} AND ${timeRange(layout, lo, hi + 1n)}
ORDER BY event_id, ${firstReceivedOrder(layout)}
LIMIT 1 BY event_id`,
    { operation: 'api_search_shown', ...(settings ? { settings } : {}) },
  );
  return new Map(rows.map((r) => [r.eid, messageKey(r.kafka_topic, r.kafka_partition, r.kafka_offset)]));
}

export const messageKey = (topic: string, partition: number | string, offset: number | string | bigint) => `${topic}|${partition}|${offset}`;
