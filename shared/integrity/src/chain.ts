import { createHash } from 'node:crypto';
import { canonicalJson } from './jcs.js';

/** prev_hash of the first entry of every partition's chain. */
export const GENESIS_HASH = '0'.repeat(64);
export const CANONICAL_VERSION = 1;

/**
 * A stored event as the chain sees it: every stored column except `hash` itself and
 * `ingested_at` (wall-clock time of the write, which differs between a first delivery and a
 * re-delivery; see docs/integrity.md). Absent optional values are ''.
 */
export interface ChainEntryFields {
  tenant_id: string;
  event_id: string;
  /** Microseconds since the epoch, as a decimal string. */
  occurred_at_us: string;
  action: string;
  category: string;
  outcome: string;
  reason: string;
  actor_id: string;
  actor_type: string;
  actor_name: string;
  actor_session_id: string;
  actor_ip: string;
  actor_user_agent: string;
  service: string;
  host: string;
  region: string;
  resource_type: string;
  resource_id: string;
  resource_name: string;
  request_id: string;
  trace_id: string;
  severity: string;
  attributes: Readonly<Record<string, string>>;
  /** Kafka message timestamp in whole seconds: the precision every storage layout keeps. */
  received_at_s: number;
  kafka_topic: string;
  kafka_partition: number;
  kafka_offset: string;
  geo_country: string;
  geo_city: string;
  ua_browser: string;
  ua_os: string;
  ua_device: string;
  chain_seq: string;
  prev_hash: string;
}

/** What ingest knows about a row before it is chained: every chain field except the chain's own two. */
export type ChainContent = Omit<ChainEntryFields, 'chain_seq' | 'prev_hash'>;

export const CHAIN_FIELDS: readonly (keyof ChainEntryFields)[] = [
  'tenant_id',
  'event_id',
  'occurred_at_us',
  'action',
  'category',
  'outcome',
  'reason',
  'actor_id',
  'actor_type',
  'actor_name',
  'actor_session_id',
  'actor_ip',
  'actor_user_agent',
  'service',
  'host',
  'region',
  'resource_type',
  'resource_id',
  'resource_name',
  'request_id',
  'trace_id',
  'severity',
  'attributes',
  'received_at_s',
  'kafka_topic',
  'kafka_partition',
  'kafka_offset',
  'geo_country',
  'geo_city',
  'ua_browser',
  'ua_os',
  'ua_device',
  'chain_seq',
  'prev_hash',
];

// The keys of a canonical entry in RFC 8785 order (UTF-16 code units; all ASCII here), `v` included.
const SORTED_KEYS: readonly string[] = [...CHAIN_FIELDS, 'v'].sort();
const KEY_PREFIX: Readonly<Record<string, string>> = Object.fromEntries(SORTED_KEYS.map((k, i) => [k, `${i === 0 ? '{' : ','}${JSON.stringify(k)}:`]));

/**
 * The canonical text of one chain entry: RFC 8785 JSON of the fields plus `"v":1`. Equal to
 * `canonicalJson({ v: 1, ...fields })` (a unit test holds them equal), written out directly
 * because it runs once per stored event in ingest and once per row in `auditstream verify`.
 */
export function canonicalEntryText(fields: ChainEntryFields): string {
  let out = '';
  for (const k of SORTED_KEYS) {
    out += KEY_PREFIX[k];
    if (k === 'v') {
      out += String(CANONICAL_VERSION);
      continue;
    }
    const v = fields[k as keyof ChainEntryFields];
    if (typeof v === 'string') out += JSON.stringify(v);
    else if (typeof v === 'number') {
      if (!Number.isSafeInteger(v)) throw new TypeError(`canonicalEntry: ${k} must be a safe integer`);
      out += String(v);
    } else if (v !== null && typeof v === 'object') {
      out += canonicalJson(v as Record<string, string>);
    } else throw new TypeError(`canonicalEntry: ${k} is missing`);
  }
  return `${out}}`;
}

/** The canonical bytes of one chain entry (RFC 8785 JSON of the fields plus a version). */
export function canonicalEntry(fields: ChainEntryFields): Buffer {
  return Buffer.from(canonicalEntryText(fields), 'utf8');
}

/** hash = SHA-256(prev_hash bytes || canonical(entry)), hex. */
export function entryHash(fields: ChainEntryFields): string {
  if (!/^[0-9a-f]{64}$/.test(fields.prev_hash)) throw new TypeError('entryHash: prev_hash must be 64 lowercase hex characters');
  return createHash('sha256').update(Buffer.from(fields.prev_hash, 'hex')).update(canonicalEntryText(fields), 'utf8').digest('hex');
}

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}
