import * as nodeCrypto from 'node:crypto';
import type { Layout } from './capabilities.js';
import { EVENT_CONTENT_COLUMNS, type EventRow } from './rows.js';
import { type SqlFragment, sql, unsafeRaw } from './sql.js';

/**
 * Storage identity of audit.events, in one place:
 * - a stored row is identified by its Kafka message (kafka_topic, kafka_partition, kafka_offset),
 *   the end of the sorting key (schema.ts EVENTS_ORDER_BY): re-delivered copies of a message
 *   collapse on merge, different messages never do;
 * - queries show one row per event_id: the FIRST RECEIVED message carrying it, i.e. the row with
 *   the smallest (received_at to the millisecond, kafka_topic, kafka_partition, kafka_offset);
 * - messages sharing an event_id with the same event content (a producer that published one event
 *   twice) are duplicates; with different content they are a CONFLICT: every message stays stored
 *   and chained, `verify` reports each one that is not shown (event_id_conflict) and ingest
 *   counts the ones it sees (auditstream_ingest_event_id_reuse_total{kind="conflict"}).
 * "Event content" is every contract field as stored: the columns of EVENT_CONTENT_COLUMNS,
 * occurred_at (µs) and the attributes; not what ingest adds (source, enrichment, chain).
 */

/** ORDER BY that puts the row queries show for an event_id first (ascending: the first received). */
export function firstReceivedOrder(layout: Layout): SqlFragment {
  return layout === 'modern'
    ? sql`received_at ASC, kafka_topic ASC, kafka_partition ASC, kafka_offset ASC`
    : sql`received_at ASC, received_at_ms ASC, kafka_topic ASC, kafka_partition ASC, kafka_offset ASC`;
}

/** A 64-bit hash of a row's event content, computed by the server (equal content → equal hash, on one server). */
export function contentHashSql(layout: Layout): SqlFragment {
  const cols = EVENT_CONTENT_COLUMNS.filter((c) => c !== 'event_id').map((c) => `toString(${c})`);
  const time = layout === 'modern' ? ['toUnixTimestamp64Micro(occurred_at)'] : ['occurred_at', 'occurred_at_us'];
  const attrs = layout === 'modern' ? ['mapKeys(attributes)', 'mapValues(attributes)'] : ['attr_keys', 'attr_values'];
  return unsafeRaw(`cityHash64(${[...cols, ...time, ...attrs].join(', ')})`);
}

// One-shot crypto.hash (Node ≥ 20.12): one native call per row instead of one update() per column.
const oneShot = (nodeCrypto as { hash?: (alg: string, data: string, enc: 'base64') => string }).hash;

/** The same idea in the client, over a row built by toRow: a digest of its event content (compared within one process only). */
export function contentDigest(row: EventRow): string {
  // EVENT_CONTENT_COLUMNS written out (one template instead of a keyed read per column: this runs per stored row).
  let text = `${row.tenant_id}\0${row.event_id}\0${row.action}\0${row.category}\0${row.outcome}\0${row.reason}\0${row.actor_id}\0${row.actor_type}\0${row.actor_name}\0${row.actor_session_id}\0${row.actor_ip}\0${row.actor_user_agent}\0${row.service}\0${row.host}\0${row.region}\0${row.resource_type}\0${row.resource_id}\0${row.resource_name}\0${row.request_id}\0${row.trace_id}\0${row.severity}\0`;
  if ('attributes' in row) {
    text += `${row.occurred_at}\0`;
    for (const [k, v] of Object.entries(row.attributes)) text += `${k}\u0001${v}\0`;
  } else {
    text += `${row.occurred_at}.${row.occurred_at_us}\0`;
    for (let i = 0; i < row.attr_keys.length; i++) text += `${row.attr_keys[i]}\u0001${row.attr_values[i]}\0`;
  }
  return oneShot ? oneShot('sha1', text, 'base64') : nodeCrypto.createHash('sha1').update(text).digest('base64');
}
