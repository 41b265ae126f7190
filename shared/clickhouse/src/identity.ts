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

// Per-process random seeds: the digest is only ever compared within one process, and a producer
// cannot aim for a collision without knowing them.
const SEED_A = (Math.random() * 0x1_0000_0000) | 0;
const SEED_B = (Math.random() * 0x1_0000_0000) | 0;
let a = 0;
let b = 0;

// Two independent 32-bit lanes, one multiply-xorshift step per UTF-16 unit (a bijection of the
// lane for a given unit, so texts differing in one unit never collide); a field ends with a mark
// above any code unit, so field boundaries cannot shift.
function mixText(s: string, end: number): void {
  let x = a;
  let y = b;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    x = Math.imul(x ^ c, 0x9e3779b1);
    x ^= x >>> 15;
    y = Math.imul(y ^ c, 0x85ebca77);
    y ^= y >>> 13;
  }
  a = Math.imul(x ^ end, 0x9e3779b1) ^ (x >>> 15);
  b = Math.imul(y ^ end, 0x85ebca77) ^ (y >>> 13);
}

// An integer as its two 32-bit halves (toRow's are; anything else by its decimal text).
function mixNumber(n: number): void {
  if (!Number.isSafeInteger(n)) {
    mixText(String(n), 0x1_0003);
    return;
  }
  const lo = n >>> 0;
  const hi = Math.floor(n / 0x1_0000_0000) | 0;
  a = Math.imul(Math.imul(a ^ lo, 0x9e3779b1) ^ hi, 0x9e3779b1) ^ 0x1_0002;
  a ^= a >>> 15;
  b = Math.imul(Math.imul(b ^ lo, 0x85ebca77) ^ hi, 0x85ebca77) ^ 0x1_0002;
  b ^= b >>> 13;
}

function fmix(h: number): number {
  let x = h ^ (h >>> 16);
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

const FIELD = 0x1_0000;
const KEY = 0x1_0001;

/**
 * The same idea in the client, over a row built by toRow: a 53-bit digest of its event content,
 * equal for equal content (compared within one process only: the seeds are per process). Not
 * cryptographic, and need not be: it only labels ingest's reuse metric and warning; every message
 * stays stored and chained, and `verify` judges conflicts on the stored rows (contentHashSql).
 * Hashed field by field, with no text built: this runs per stored row.
 */
export function contentDigest(row: EventRow): number {
  a = SEED_A;
  b = SEED_B;
  // EVENT_CONTENT_COLUMNS written out (a keyed read per column costs more: this runs per stored row).
  mixText(row.tenant_id, FIELD);
  mixText(row.event_id, FIELD);
  mixText(row.action, FIELD);
  mixText(row.category, FIELD);
  mixText(row.outcome, FIELD);
  mixText(row.reason, FIELD);
  mixText(row.actor_id, FIELD);
  mixText(row.actor_type, FIELD);
  mixText(row.actor_name, FIELD);
  mixText(row.actor_session_id, FIELD);
  mixText(row.actor_ip, FIELD);
  mixText(row.actor_user_agent, FIELD);
  mixText(row.service, FIELD);
  mixText(row.host, FIELD);
  mixText(row.region, FIELD);
  mixText(row.resource_type, FIELD);
  mixText(row.resource_id, FIELD);
  mixText(row.resource_name, FIELD);
  mixText(row.request_id, FIELD);
  mixText(row.trace_id, FIELD);
  mixText(row.severity, FIELD);
  if ('attributes' in row) {
    mixText(row.occurred_at, FIELD);
    for (const k in row.attributes) {
      if (!Object.hasOwn(row.attributes, k)) continue;
      mixText(k, KEY);
      mixText(row.attributes[k] as string, FIELD);
    }
  } else {
    mixNumber(row.occurred_at);
    mixNumber(row.occurred_at_us);
    for (let i = 0; i < row.attr_keys.length; i++) {
      mixText(row.attr_keys[i] as string, KEY);
      mixText(row.attr_values[i] as string, FIELD);
    }
  }
  return fmix(a) * 0x20_0000 + (fmix(b) >>> 11);
}
