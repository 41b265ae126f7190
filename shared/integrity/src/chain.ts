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

/** The canonical bytes of one chain entry (RFC 8785 JSON of the fields plus a version). */
export function canonicalEntry(fields: ChainEntryFields): Buffer {
  const obj: Record<string, string | number | Record<string, string>> = { v: CANONICAL_VERSION };
  for (const k of CHAIN_FIELDS) obj[k] = fields[k] as string | number | Record<string, string>;
  return Buffer.from(canonicalJson(obj), 'utf8');
}

/** hash = SHA-256(prev_hash bytes || canonical(entry)), hex. */
export function entryHash(fields: ChainEntryFields): string {
  if (!/^[0-9a-f]{64}$/.test(fields.prev_hash)) throw new TypeError('entryHash: prev_hash must be 64 lowercase hex characters');
  return createHash('sha256').update(Buffer.from(fields.prev_hash, 'hex')).update(canonicalEntry(fields)).digest('hex');
}

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}
