import {
  type ClickHouse,
  classifyClickHouseError,
  eventColumns,
  fromRow,
  ident,
  joinSql,
  layoutFor,
  p,
  render,
  type SqlFragment,
  type StoredEvent,
  sql,
  table,
} from '@auditstream/clickhouse';
import type { ClickHouseSettings } from '@clickhouse/client';
import type { TenantScope } from '../scope.js';
import { afterPosition, type EventQuery, eventOrder, eventsWhere, limitCount, tenantCondition } from './scope-sql.js';

/**
 * Event reads. audit.events is a ReplacingMergeTree that may hold re-delivered copies of an event
 * until parts merge; every answer here counts an event once:
 * - pages and single reads: ORDER BY … LIMIT 1 BY event_id (the storage module's row dedup);
 * - exports: the rows stream sorted by (occurred_at, event_id), so copies of an event are
 *   adjacent and are skipped as they pass (streamEventRows); a server-side LIMIT 1 BY would keep
 *   a set of every id of the export in ClickHouse's memory.
 */

function selectList(layout: ReturnType<typeof layoutFor>): SqlFragment {
  return joinSql(
    eventColumns(layout).map((c) => sql`${ident(c)}`),
    ', ',
  );
}

export interface SearchOptions {
  order: 'asc' | 'desc';
  limit: number;
  after?: { t: bigint; id: string } | undefined;
  settings?: ClickHouseSettings;
}

/** One page of events (at most `limit`), and whether more follow. */
export async function searchEvents(ch: ClickHouse, query: EventQuery, options: SearchOptions): Promise<{ events: StoredEvent[]; more: boolean }> {
  const caps = await ch.capabilities();
  const layout = layoutFor(caps);
  const where = [eventsWhere(caps, ch.database, query)];
  if (options.after) where.push(afterPosition(layout, options.order, options.after.t, options.after.id));
  const q = sql`SELECT ${selectList(layout)} FROM ${table(ch.database, 'events')}
WHERE ${joinSql(where, ' AND ')}
ORDER BY ${eventOrder(layout, options.order)}
LIMIT 1 BY event_id
LIMIT ${limitCount(options.limit + 1)}`;
  const rows = await ch.queryRows<Record<string, unknown>>(q, { operation: 'api_search', ...(options.settings ? { settings: options.settings } : {}) });
  const events = rows.slice(0, options.limit).map(fromRow);
  return { events, more: rows.length > options.limit };
}

/** One event by id, within the scope (any time), or undefined. */
export async function getEventById(ch: ClickHouse, scope: TenantScope, eventId: string, settings?: ClickHouseSettings): Promise<StoredEvent | undefined> {
  const layout = layoutFor(await ch.capabilities());
  const q = sql`SELECT ${selectList(layout)} FROM ${table(ch.database, 'events')}
WHERE ${tenantCondition(scope)} AND event_id = ${p.uuid(eventId)}
LIMIT 1 BY event_id
LIMIT 1`;
  const rows = await ch.queryRows<Record<string, unknown>>(q, { operation: 'api_get_event', ...(settings ? { settings } : {}) });
  return rows[0] ? fromRow(rows[0]) : undefined;
}

/** Columns an export leaves out: its rows carry no integrity fields (GET /v1/events/{id} has them). */
const NOT_EXPORTED = new Set(['kafka_topic', 'kafka_partition', 'kafka_offset', 'chain_seq', 'prev_hash', 'hash']);

/** The export query: every matching row (copies included), sorted so copies are adjacent. */
export async function exportQuery(ch: ClickHouse, query: EventQuery, order: 'asc' | 'desc'): Promise<SqlFragment> {
  const caps = await ch.capabilities();
  const layout = layoutFor(caps);
  const columns = joinSql(
    eventColumns(layout)
      .filter((c) => !NOT_EXPORTED.has(c))
      .map((c) => sql`${ident(c)}`),
    ', ',
  );
  return sql`SELECT ${columns} FROM ${table(ch.database, 'events')}
WHERE ${eventsWhere(caps, ch.database, query)}
ORDER BY ${eventOrder(layout, order)}`;
}

/**
 * Streams the rows of an export from ClickHouse's HTTP response, in batches as they arrive
 * (one per chunk the client parsed), copies of an event skipped. Memory is constant: the client
 * parses the response as it arrives, and the consumer's pace (the HTTP answer's backpressure)
 * sets how fast ClickHouse is read. The caller must consume or `return()` the iterator (which
 * stops reading and closes the ClickHouse response).
 */
export async function* streamEventRows(
  ch: ClickHouse,
  query: EventQuery,
  options: { order: 'asc' | 'desc'; settings: ClickHouseSettings; signal: AbortSignal },
): AsyncGenerator<StoredEvent[], void, void> {
  const caps = await ch.capabilities();
  const rendered = render(await exportQuery(ch, query, options.order), caps);
  let rs: Awaited<ReturnType<ClickHouse['client']['query']>>;
  try {
    rs = await ch.client.query({
      query: rendered.query,
      format: 'JSONEachRow',
      ...(rendered.query_params ? { query_params: rendered.query_params } : {}),
      // wait_end_of_query=0: stream as the server produces rows (the base settings set it to 1 for
      // small reads). An error after the first rows arrives as text in the body: see below.
      clickhouse_settings: { ...options.settings, wait_end_of_query: 0 },
      abort_signal: options.signal,
    });
  } catch (err) {
    throw classifyClickHouseError(err, { operation: 'api_export' });
  }
  const stream = rs.stream();
  let prevKey = '';
  try {
    for await (const rows of stream) {
      const batch: StoredEvent[] = [];
      for (const row of rows as { text: string }[]) {
        let obj: Record<string, unknown>;
        try {
          obj = JSON.parse(row.text) as Record<string, unknown>;
        } catch {
          // 18.16 appends "Code: 159, e.displayText() = …" to a 200 response when the query fails mid-way.
          throw classifyClickHouseError(new Error(row.text.slice(0, 500)), { operation: 'api_export' });
        }
        const key = `${obj.occurred_at}|${obj.occurred_at_us ?? ''}|${obj.event_id}`;
        if (key === prevKey) continue; // a re-delivered copy of the previous event
        prevKey = key;
        batch.push(fromRow(obj));
      }
      if (batch.length > 0) yield batch;
    }
  } catch (err) {
    throw classifyClickHouseError(err, { operation: 'api_export' });
  } finally {
    if (!stream.destroyed) stream.destroy();
  }
}
