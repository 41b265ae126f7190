import { type EventRow, type LegacyEventRow, parseClickHouseTime, RowBinaryWriter } from '@auditstream/clickhouse';
import { type ChainContent, sha256Hex } from './chain.js';

/**
 * Chain entry format 2 (docs/integrity.md, "Entry formats"): the entry's fields in RowBinary's
 * encodings instead of RFC 8785 JSON text, so that ingest writes ~400 bytes per entry straight
 * into one buffer rather than building ~1.1 KB of text, and the hash covers the producer's
 * sequence columns as well:
 *
 *   hash = SHA-256(prev_hash (32 bytes) || 0x02 || chain_seq (UInt64 LE) || the fields below, in order)
 *
 * A string is its UTF-8 byte count (unsigned LEB128) then its bytes; an integer is 8 bytes,
 * little-endian; `attributes` is its entry count (LEB128) then key, value, key, value … with keys
 * in ascending UTF-16 code unit order. A format 1 entry's bytes after prev_hash start with `{`,
 * a format 2 entry's with 0x02, so no byte string is an entry of both formats.
 */
export const FORMAT2_TAG = 0x02;

type Kind = 'string' | 'uint64' | 'attributes';

/** The fields after chain_seq, in the order they are written (ascending by name), and how each is encoded. */
export const FORMAT2_FIELDS: readonly (readonly [keyof ChainContent, Kind])[] = [
  ['action', 'string'],
  ['actor_id', 'string'],
  ['actor_ip', 'string'],
  ['actor_name', 'string'],
  ['actor_session_id', 'string'],
  ['actor_type', 'string'],
  ['actor_user_agent', 'string'],
  ['attributes', 'attributes'],
  ['category', 'string'],
  ['event_id', 'string'],
  ['geo_city', 'string'],
  ['geo_country', 'string'],
  ['host', 'string'],
  ['kafka_offset', 'uint64'],
  ['kafka_partition', 'uint64'],
  ['kafka_topic', 'string'],
  ['occurred_at_us', 'uint64'],
  ['outcome', 'string'],
  ['producer_id', 'string'],
  ['producer_seq', 'uint64'],
  ['reason', 'string'],
  ['received_at_s', 'uint64'],
  ['region', 'string'],
  ['request_id', 'string'],
  ['resource_id', 'string'],
  ['resource_name', 'string'],
  ['resource_type', 'string'],
  ['service', 'string'],
  ['severity', 'string'],
  ['tenant_id', 'string'],
  ['trace_id', 'string'],
  ['ua_browser', 'string'],
  ['ua_device', 'string'],
  ['ua_os', 'string'],
];

const DECIMAL = /^(?:0|[1-9][0-9]*)$/;
const HEX64 = /^[0-9a-f]{64}$/;
const UINT64_MAX = 2n ** 64n - 1n;

function fail(key: string, what: string): never {
  throw new TypeError(`chain entry format 2: ${key} ${what}`);
}

/** An integer field: a safe integer, or canonical decimal text (as ClickHouse's toString writes it) below 2^64. */
function writeUint64(w: RowBinaryWriter, v: unknown, key: string): void {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v < 0) fail(key, 'must be a non-negative integer');
    w.u64(v);
    return;
  }
  if (typeof v !== 'string' || !DECIMAL.test(v)) fail(key, 'must be canonical decimal text');
  if (v.length <= 15) {
    w.u64(Number(v));
    return;
  }
  const n = BigInt(v);
  if (n > UINT64_MAX) fail(key, 'must be below 2^64');
  w.u64Big(n);
}

/** A string field. Ill-formed UTF-16 (a lone surrogate) has no UTF-8 bytes of its own: refused, never replaced. */
function writeString(w: RowBinaryWriter, v: unknown, key: string): void {
  if (typeof v !== 'string') fail(key, 'must be a string');
  if (!(v as string & { isWellFormed(): boolean }).isWellFormed()) fail(key, 'is not well-formed Unicode');
  w.string(v);
}

function writeAttributes(w: RowBinaryWriter, attrs: unknown): void {
  if (attrs === null || typeof attrs !== 'object' || Array.isArray(attrs)) fail('attributes', 'must be a map of strings');
  // Object key order is not UTF-16 order (integer-like keys come first): sort explicitly.
  const keys = Object.keys(attrs).sort();
  w.varint(keys.length);
  for (const k of keys) {
    writeString(w, k, 'attributes');
    writeString(w, (attrs as Record<string, unknown>)[k], `attributes.${k}`);
  }
}

/** Writes the fields of `content` (everything after chain_seq). */
export function writeContentV2(w: RowBinaryWriter, content: ChainContent): void {
  for (const [key, kind] of FORMAT2_FIELDS) {
    const v = content[key];
    if (kind === 'string') writeString(w, v, key);
    else if (kind === 'uint64') writeUint64(w, v, key);
    else writeAttributes(w, v);
  }
}

/**
 * writeContentV2(chainContentFromRow(row)) straight from a row built by toRow, without the
 * content object. toRow has refused ill-formed strings, so they are not checked again; its legacy
 * attribute keys are sorted, which is checked (anything else takes the generic path). A unit
 * test holds the two equal.
 */
export function writeRowV2(w: RowBinaryWriter, row: EventRow): void {
  w.string(row.action);
  w.string(row.actor_id);
  w.string(row.actor_ip);
  w.string(row.actor_name);
  w.string(row.actor_session_id);
  w.string(row.actor_type);
  w.string(row.actor_user_agent);
  if ('attributes' in row) writeAttributes(w, row.attributes);
  else writeLegacyAttributes(w, row);
  w.string(row.category);
  w.string(row.event_id.toLowerCase());
  w.string(row.geo_city);
  w.string(row.geo_country);
  w.string(row.host);
  writeUint64(w, row.kafka_offset, 'kafka_offset');
  writeUint64(w, row.kafka_partition, 'kafka_partition');
  w.string(row.kafka_topic);
  if ('attributes' in row) writeUint64(w, parseClickHouseTime(row.occurred_at).toString(), 'occurred_at_us');
  else writeLegacyMicros(w, row);
  w.string(row.outcome);
  // Absent on rows of events without them: the columns then hold '' and 0.
  w.string(row.producer_id ?? '');
  writeUint64(w, row.producer_seq ?? 0, 'producer_seq');
  w.string(row.reason);
  if ('attributes' in row) writeUint64(w, Number(parseClickHouseTime(row.received_at) / 1_000_000n), 'received_at_s');
  else writeUint64(w, row.received_at, 'received_at_s');
  w.string(row.region);
  w.string(row.request_id);
  w.string(row.resource_id);
  w.string(row.resource_name);
  w.string(row.resource_type);
  w.string(row.service);
  w.string(row.severity);
  w.string(row.tenant_id);
  w.string(row.trace_id);
  w.string(row.ua_browser);
  w.string(row.ua_device);
  w.string(row.ua_os);
}

function writeLegacyMicros(w: RowBinaryWriter, row: LegacyEventRow): void {
  const s = row.occurred_at;
  const us = row.occurred_at_us;
  if (Number.isInteger(s) && Number.isInteger(us) && s >= 0 && s <= 4_294_967_295 && us >= 0 && us < 1_000_000) w.u64(s * 1_000_000 + us);
  else writeUint64(w, (BigInt(s) * 1_000_000n + BigInt(us)).toString(), 'occurred_at_us');
}

function writeLegacyAttributes(w: RowBinaryWriter, row: LegacyEventRow): void {
  const keys = row.attr_keys;
  const values = row.attr_values;
  let sorted = keys.length === values.length;
  for (let i = 1; i < keys.length && sorted; i++) sorted = (keys[i - 1] as string) < (keys[i] as string);
  if (!sorted) {
    // Not as toRow writes them (unsorted, repeated or unaligned): the generic form, one value per key.
    const attrs: Record<string, string> = {};
    for (let i = 0; i < keys.length; i++) attrs[keys[i] as string] = values[i] ?? '';
    writeAttributes(w, attrs);
    return;
  }
  w.varint(keys.length);
  for (let i = 0; i < keys.length; i++) {
    w.string(keys[i] as string);
    w.string(values[i] as string);
  }
}

// One buffer for every entry hashed in this process: hashing is synchronous, so entries never share it.
const scratch = new RowBinaryWriter(4096);
// The hash returned last is lowercase hex: a chain passes it straight back as the next prev_hash.
let lastHash: string | undefined;

/** The writer, holding prev_hash, the tag and chain_seq: the fields come next. */
function begin(prevHash: string, chainSeq: string | bigint): RowBinaryWriter {
  const w = scratch;
  w.pos = 0;
  w.ensure(41);
  if (prevHash !== lastHash && !HEX64.test(prevHash)) fail('prev_hash', 'must be 64 lowercase hexadecimal characters');
  w.buf.write(prevHash, 0, 32, 'hex');
  w.pos = 32;
  w.buf[w.pos++] = FORMAT2_TAG;
  if (typeof chainSeq === 'bigint') {
    if (chainSeq < 0n || chainSeq > UINT64_MAX) fail('chain_seq', 'must be a UInt64');
    w.u64Big(chainSeq);
  } else writeUint64(w, chainSeq, 'chain_seq');
  return w;
}

/** The format 2 hash of `content` placed at `chainSeq` after `prevHash` (64 lowercase hex characters). */
export function contentHashV2(content: ChainContent, chainSeq: string | bigint, prevHash: string): string {
  const w = begin(prevHash, chainSeq);
  writeContentV2(w, content);
  lastHash = sha256Hex(w.buf.subarray(0, w.pos));
  return lastHash;
}

/** contentHashV2 of a row built by toRow (ingest's per-row path). */
export function rowHashV2(row: EventRow, chainSeq: string | bigint, prevHash: string): string {
  const w = begin(prevHash, chainSeq);
  writeRowV2(w, row);
  lastHash = sha256Hex(w.buf.subarray(0, w.pos));
  return lastHash;
}

/** The whole hashed input of a format 2 entry (what the tests pin, and what a proof can show byte for byte). */
export function entryBytesV2(content: ChainContent, chainSeq: string | bigint, prevHash: string): Buffer {
  const w = begin(prevHash, chainSeq);
  writeContentV2(w, content);
  return Buffer.from(w.buf.subarray(0, w.pos));
}
