import {
  BY_ID,
  type ClickHouse,
  classifyClickHouseError,
  eventColumns,
  firstReceivedOrder,
  fromRow,
  ident,
  joinSql,
  layoutFor,
  p,
  parseClickHouseTime,
  render,
  type SqlFragment,
  type StoredEvent,
  sql,
  table,
  timeRange,
} from '@auditstream/clickhouse';
import { MAX_US } from '@auditstream/schemas';
import type { ClickHouseSettings } from '@clickhouse/client';
import type { TenantScope } from '../scope.js';
import { messageKey, RESOURCE_SOURCE, resourceCondition, resourceRowsApply, shownMessages } from './resource-rows.js';
import { afterPosition, type EventQuery, eventOrder, eventsWhere, limitCount, tenantCondition } from './scope-sql.js';
import { searchWindow } from './window.js';

/**
 * Event reads. audit.events is a ReplacingMergeTree that may hold re-delivered copies of an event
 * until parts merge; every answer here counts an event once:
 * - pages: the page's keys first (occurred_at, event_id: a few narrow columns, ORDER BY … LIMIT n,
 *   which ClickHouse answers with a partial sort), copies skipped as adjacent duplicates; then
 *   the full rows of exactly those events, the first received row of each event_id (the storage
 *   module's rule, firstReceivedOrder: several messages may carry one event_id), in page order. `LIMIT 1 BY` over the whole range would make ClickHouse fully sort every row of
 *   the range (no partial sort with LIMIT BY): 1.2–3.7 s instead of 0.1–0.2 s for a page of a
 *   1M-event range on 18.16;
 * - single reads: the first received row (firstReceivedOrder);
 * - exports: the rows stream sorted by (occurred_at, event_id), so copies of an event are
 *   adjacent, the first received first, and are skipped as they pass (streamEventRows); a server-side LIMIT 1 BY would keep
 *   a set of every id of the export in ClickHouse's memory.
 */

/**
 * The chain columns: only GET /v1/events/{id} presents them. Search pages and exports leave them out
 * of the read: hash and prev_hash (64 random hex characters each) are the widest columns of events,
 * and a page read takes whole granules around scattered rows (100 events of one resource at 5M:
 * 323 → 250 MiB read; docs/benchmarks.md).
 */
const CHAIN_COLUMNS: ReadonlySet<string> = new Set(['chain_seq', 'prev_hash', 'hash']);

function selectList(layout: ReturnType<typeof layoutFor>, without: ReadonlySet<string> = new Set()): SqlFragment {
  return joinSql(
    eventColumns(layout)
      .filter((c) => !without.has(c))
      .map((c) => sql`${ident(c)}`),
    ', ',
  );
}

/** A row of a search page: the stored event without its chain fields (CHAIN_COLUMNS, not read). */
export type ListedEvent = Omit<StoredEvent, 'meta'> & { meta: Omit<StoredEvent['meta'], 'chain_seq' | 'prev_hash' | 'hash'> };

function listedRow(row: Record<string, unknown>): ListedEvent {
  const { event, meta } = fromRow(row);
  const { chain_seq: _seq, prev_hash: _prev, hash: _hash, ...rest } = meta;
  return { event, meta: rest };
}

export interface SearchOptions {
  order: 'asc' | 'desc';
  limit: number;
  after?: EventKey | undefined;
  settings?: ClickHouseSettings;
  /** `events`: never the resource-sorted copy (resource-rows.ts), e.g. to compare with it. Default: the copy when it applies. */
  source?: 'auto' | 'events';
}

/** The table a page's keys are read from: events, or a copy of its rows sorted by the filtered columns (no lookup table then). */
export interface KeySource {
  table: string;
  direct: boolean;
}
const EVENTS_SOURCE: KeySource = { table: 'events', direct: false };

type KeyOptions = { order: 'asc' | 'desc'; want: number; after?: EventKey | undefined; settings?: ClickHouseSettings; source?: KeySource };

export interface EventKey {
  /** occurred_at, µs since the epoch. */
  t: bigint;
  id: string;
}

/** Rows fetched beyond the distinct keys wanted, to absorb re-delivered copies without a second round. */
const KEY_SLACK = 16;

/**
 * The keys of the next `want` distinct events after `after` in the listing's order: first in the
 * window searchWindow picks (the newest hours holding enough rows, by the rollup), then, when it
 * held fewer, in the rest of the range. Same keys as one read of the whole range.
 */
export async function pageKeys(ch: ClickHouse, query: EventQuery, options: KeyOptions): Promise<EventKey[]> {
  const window = await searchWindow(ch, query, options);
  if (!window) return pageKeysInRange(ch, query, options);
  const first = await pageKeysInRange(ch, { ...query, ...window }, options);
  if (first.length >= options.want) return first;
  // The window held too few: the rest of the range, in the same order (no key can be in both).
  const rest = options.order === 'desc' ? { ...query, to: window.from } : { ...query, from: window.to };
  return [...first, ...(await pageKeysInRange(ch, rest, { ...options, want: options.want - first.length }))];
}

/**
 * The keys of the next `want` distinct events after `after` in [query.from, query.to), in one read
 * of the whole range (what pageKeys answers, without its window). Copies of an
 * event share its key and are adjacent in this order: all but the first are skipped. When copies
 * use up the slack, the next batch starts after the last row read.
 */
export async function pageKeysInRange(ch: ClickHouse, query: EventQuery, options: KeyOptions): Promise<EventKey[]> {
  const caps = await ch.capabilities();
  const layout = layoutFor(caps);
  const source = options.source ?? EVENTS_SOURCE;
  const where = eventsWhere(caps, ch.database, query, { direct: source.direct });
  const select =
    layout === 'modern'
      ? sql`toString(occurred_at) AS t_text, toString(event_id) AS eid`
      : sql`toString(occurred_at) AS t_text, occurred_at_us AS t_us, toString(event_id) AS eid`;
  const keys: EventKey[] = [];
  let pos = options.after;
  let prev = '';
  for (;;) {
    const n = options.want - keys.length + KEY_SLACK;
    const q = sql`SELECT ${select} FROM ${table(ch.database, source.table)}
WHERE ${where}${pos ? sql` AND ${afterPosition(layout, options.order, pos.t, pos.id)}` : sql``}
ORDER BY ${eventOrder(layout, options.order)}
LIMIT ${limitCount(n)}`;
    const rows = await ch.queryRows<{ t_text: string; t_us?: number | string; eid: string }>(q, {
      operation: 'api_search_keys',
      ...(options.settings ? { settings: options.settings } : {}),
    });
    for (const r of rows) {
      const t = parseClickHouseTime(r.t_text) + BigInt(r.t_us ?? 0);
      const k = `${t}|${r.eid}`;
      if (k === prev) continue;
      prev = k;
      keys.push({ t, id: r.eid });
      if (keys.length === options.want) return keys;
    }
    const last = rows.at(-1);
    if (rows.length < n || !last) return keys;
    pos = { t: parseClickHouseTime(last.t_text) + BigInt(last.t_us ?? 0), id: last.eid };
  }
}

/** One page of events (at most `limit`), and whether more follow. */
export async function searchEvents(ch: ClickHouse, query: EventQuery, options: SearchOptions): Promise<{ events: ListedEvent[]; more: boolean }> {
  const settings = options.settings ? { settings: options.settings } : {};
  const copy = options.source !== 'events' && (await resourceRowsApply(ch, query, options.settings));
  const keys = await pageKeys(ch, query, {
    order: options.order,
    want: options.limit + 1,
    after: options.after,
    ...settings,
    ...(copy ? { source: RESOURCE_SOURCE } : {}),
  });
  const page = keys.slice(0, options.limit);
  if (page.length === 0) return { events: [], more: false };
  const more = keys.length > options.limit;
  if (copy) {
    const rows = await resourcePageRows(ch, query, page, { order: options.order, ...settings });
    if (rows) return { events: rows, more };
  }
  // Prefixes pay off for a page of one actor (a few pairs); other pages spread over one pair per actor.
  const narrow = query.actor_id !== undefined;
  return { events: await pageRows(ch, query.scope, page, { order: options.order, narrow, ...settings }), more };
}

/** The time span [lo, hi] (µs) of a page's keys and its ids as a SQL list. */
function pageSpan(page: readonly EventKey[]): { lo: bigint; hi: bigint; ids: SqlFragment } {
  let lo = page[0]?.t as bigint;
  let hi = lo;
  for (const k of page) {
    if (k.t < lo) lo = k.t;
    if (k.t > hi) hi = k.t;
  }
  const ids = joinSql(
    page.map((k) => sql`${p.uuid(k.id)}`),
    ', ',
  );
  return { lo, hi, ids };
}

/**
 * The first received row of each event_id among the rows `where` selects in `from`, in the listing's
 * order: pageRows' read, over events or the resource copy.
 */
function firstRowsSql(layout: ReturnType<typeof layoutFor>, from: ReturnType<typeof table>, where: SqlFragment, order: 'asc' | 'desc'): SqlFragment {
  const cols = selectList(layout, CHAIN_COLUMNS);
  return sql`SELECT ${cols} FROM (SELECT ${cols} FROM ${from}
WHERE ${where}
ORDER BY event_id, ${firstReceivedOrder(layout)}
LIMIT 1 BY event_id)
ORDER BY ${eventOrder(layout, order)}`;
}

/**
 * A page of one resource from events_by_resource_rows (resource-rows.ts): pageRows' read over the
 * copy, where the page's rows are a few contiguous granules. Undefined when a row it picked is not
 * the one events shows for that id (another resource's row of a reused id was received first): the
 * caller then reads the page from events.
 */
export async function resourcePageRows(
  ch: ClickHouse,
  query: EventQuery,
  page: readonly EventKey[],
  o: { order: 'asc' | 'desc'; settings?: ClickHouseSettings },
): Promise<ListedEvent[] | undefined> {
  const layout = layoutFor(await ch.capabilities());
  const { lo, hi, ids } = pageSpan(page);
  const where = sql`${tenantCondition(query.scope)} AND ${resourceCondition(query)} AND ${timeRange(layout, lo, hi + 1n)} AND event_id IN (${ids})`;
  const [rows, shown] = await Promise.all([
    ch.queryRows<Record<string, unknown>>(firstRowsSql(layout, table(ch.database, RESOURCE_SOURCE.table), where, o.order), {
      operation: 'api_search',
      ...(o.settings ? { settings: o.settings } : {}),
    }),
    shownMessages(
      ch,
      query.scope,
      page.map((k) => k.id),
      lo,
      hi,
      o.settings,
    ),
  ]);
  if (rows.length !== shown.size) return undefined;
  for (const r of rows) {
    if (shown.get(String(r.event_id)) !== messageKey(String(r.kafka_topic), String(r.kafka_partition), String(r.kafka_offset))) return undefined;
  }
  return rows.map(listedRow);
}

/** Key prefixes up to which a page read names them (pageRows). */
const MAX_PREFIXES = 8;

/**
 * The rows of a page's events: the first received row of each event_id among the rows in the
 * scope and the page's time span, in the listing's order. The sorting key after the day is
 * (action, actor_id), so `event_id IN (…)` alone reads the event_id column of whole days: with
 * `narrow` (the default) the (action, actor_id) of every stored row of these ids is read first
 * from events_by_id (migration 011, sorted by id) and the read names those key prefixes when
 * they are few.
 * Every row of the ids has its pair there, so the rows read, and the answer, are the same.
 */
export async function pageRows(
  ch: ClickHouse,
  scope: EventQuery['scope'],
  page: readonly EventKey[],
  o: { order: 'asc' | 'desc'; settings?: ClickHouseSettings; narrow?: boolean },
): Promise<ListedEvent[]> {
  const settings = o.settings ? { settings: o.settings } : {};
  const layout = layoutFor(await ch.capabilities());
  const { lo, hi, ids } = pageSpan(page);
  let prefixes = sql``;
  if (o.narrow !== false) {
    const pairs = await ch.queryRows<{ action: string; actor_id: string }>(
      sql`SELECT DISTINCT action, actor_id FROM ${table(ch.database, BY_ID.table)} WHERE ${tenantCondition(scope)} AND event_id IN (${ids})`,
      { operation: 'api_search_prefixes', ...settings },
    );
    if (pairs.length === 0) return [];
    // A few prefixes (a page of one actor) name a few granules; many (a page of one resource or
    // action: one per actor) make the read of whole granules cost more than the id scan (measured
    // at 5M on 18.16: 100 pairs, 0.66–0.81 s against 0.24–0.30 s), so those read as before.
    if (pairs.length <= MAX_PREFIXES)
      prefixes = sql` AND (${joinSql(
        pairs.map((r) => sql`(action = ${r.action} AND actor_id = ${r.actor_id})`),
        ' OR ',
      )})`;
  }
  // Exactly these events: their tenant scope, their time span, their ids.
  const where = sql`${tenantCondition(scope)} AND ${timeRange(layout, lo, hi + 1n)}${prefixes} AND event_id IN (${ids})`;
  const q = firstRowsSql(layout, table(ch.database, 'events'), where, o.order);
  const rows = await ch.queryRows<Record<string, unknown>>(q, { operation: 'api_search', ...settings });
  return rows.map(listedRow);
}

const HOUR_US = 3_600_000_000n;
/** DateTime's end (2106): ids claiming a later time skip the window. */
const DAY_US = 24n * HOUR_US;

/**
 * One event by id, within the scope (any time), or undefined. event_id is not a prefix of the
 * sorting key, so a lookup by id alone reads every event of the scope. A UUIDv7 carries the time
 * the SDK made it, and the SDK accepts occurred_at from 7 days before that to 5 minutes after:
 * that window (with margins) is tried first, through the primary key; the whole scope only when
 * the event is not there (not found, another tenant's, or an event with an unusual occurred_at),
 * so "not visible" and "does not exist" cost the same.
 */
export async function getEventById(ch: ClickHouse, scope: TenantScope, eventId: string, settings?: ClickHouseSettings): Promise<StoredEvent | undefined> {
  const layout = layoutFor(await ch.capabilities());
  const read = async (window: SqlFragment) => {
    const q = sql`SELECT ${selectList(layout)} FROM ${table(ch.database, 'events')}
WHERE ${tenantCondition(scope)}${window} AND event_id = ${p.uuid(eventId)}
ORDER BY ${firstReceivedOrder(layout)}
LIMIT 1`;
    const rows = await ch.queryRows<Record<string, unknown>>(q, { operation: 'api_get_event', ...(settings ? { settings } : {}) });
    return rows[0] ? fromRow(rows[0]) : undefined;
  };
  const madeUs = uuidv7Micros(eventId);
  if (madeUs !== undefined && madeUs + HOUR_US < MAX_US) {
    const from = madeUs - 8n * DAY_US;
    const hit = await read(sql` AND ${timeRange(layout, from > 0n ? from : 0n, madeUs + HOUR_US)}`);
    if (hit) return hit;
  }
  return read(sql``);
}

/** The creation time of a UUIDv7 (its first 48 bits, ms), in µs; undefined for other versions. */
export function uuidv7Micros(id: string): bigint | undefined {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-7/i.test(id)) return undefined;
  return BigInt(Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16)) * 1000n;
}

/**
 * The export query: every matching row (copies included), sorted so copies are adjacent. Its rows carry
 * no chain fields (CHAIN_COLUMNS; GET /v1/events/{id} has them). The Kafka position is read (not
 * presented): the export manifest names the checkpoints covering the rows.
 */
export async function exportQuery(ch: ClickHouse, query: EventQuery, order: 'asc' | 'desc'): Promise<SqlFragment> {
  const caps = await ch.capabilities();
  const layout = layoutFor(caps);
  return sql`SELECT ${selectList(layout, CHAIN_COLUMNS)} FROM ${table(ch.database, 'events')}
WHERE ${eventsWhere(caps, ch.database, query)}
ORDER BY ${eventOrder(layout, order)}, ${firstReceivedOrder(layout)}`;
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
