import { type EventRow, type LegacyEventRow, parseClickHouseTime, type StoredEvent } from '@auditstream/clickhouse';
import { type ChainContent, canonicalValue, jsonString, type PreparedEntry } from './chain.js';
import { canonicalJson } from './jcs.js';

/**
 * The chain's view of a stored row without the chain's own fields (what the chainer takes), from the
 * storage module's layout-independent StoredEvent (so the legacy and modern layouts hash identically).
 * received_at keeps whole seconds: the precision of the legacy DateTime column.
 */
export function chainContentFromStored(s: StoredEvent): ChainContent {
  const e = s.event;
  const m = s.meta;
  return {
    tenant_id: e.tenant_id,
    event_id: e.event_id.toLowerCase(),
    occurred_at_us: BigInt(e.occurred_at).toString(),
    action: e.action,
    category: e.category,
    outcome: e.outcome,
    reason: e.reason ?? '',
    actor_id: e.actor.id,
    actor_type: e.actor.type,
    actor_name: e.actor.name ?? '',
    actor_session_id: e.actor.session_id ?? '',
    actor_ip: e.actor.ip ?? '',
    actor_user_agent: e.actor.user_agent ?? '',
    service: e.service,
    host: e.host ?? '',
    region: e.region ?? '',
    resource_type: e.resource?.type ?? '',
    resource_id: e.resource?.id ?? '',
    resource_name: e.resource?.name ?? '',
    request_id: e.request_id ?? '',
    trace_id: e.trace_id ?? '',
    severity: e.severity ?? 'info',
    attributes: sortedAttributes(e.attributes),
    received_at_s: Math.floor(m.received_at.getTime() / 1000),
    kafka_topic: m.kafka_topic,
    kafka_partition: m.kafka_partition,
    kafka_offset: m.kafka_offset,
    geo_country: m.geo_country,
    geo_city: m.geo_city,
    ua_browser: m.ua_browser,
    ua_os: m.ua_os,
    ua_device: m.ua_device,
    producer_id: e.producer_id ?? '',
    producer_seq: String(e.producer_seq ?? 0),
  };
}

/**
 * The chain content of a row about to be inserted (built by the storage module's `toRow`, either
 * layout). Equal, field for field, to what `chainContentFromStored(fromRow(<the row read back>))`
 * gives, which is what `auditstream verify` recomputes: ingest hashes exactly what is stored.
 */
export function chainContentFromRow(row: EventRow): ChainContent {
  let occurredUs: bigint;
  let receivedS: number;
  let attributes: Record<string, string>;
  if ('attributes' in row) {
    occurredUs = parseClickHouseTime(row.occurred_at);
    receivedS = Number(parseClickHouseTime(row.received_at) / 1_000_000n);
    attributes = sortedAttributes(row.attributes);
  } else {
    occurredUs = BigInt(row.occurred_at) * 1_000_000n + BigInt(row.occurred_at_us);
    receivedS = row.received_at;
    attributes = {};
    const keys = row.attr_keys;
    let sorted = true;
    for (let i = 1; i < keys.length && sorted; i++) sorted = (keys[i - 1] as string) < (keys[i] as string);
    if (sorted) for (let i = 0; i < keys.length; i++) attributes[keys[i] as string] = row.attr_values[i] ?? '';
    else {
      const order = keys.map((k, i) => [k, row.attr_values[i] ?? ''] as const).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      for (const [k, v] of order) attributes[k] = v;
    }
  }
  return {
    tenant_id: row.tenant_id,
    event_id: row.event_id.toLowerCase(),
    occurred_at_us: occurredUs.toString(),
    action: row.action,
    category: row.category,
    outcome: row.outcome,
    reason: row.reason,
    actor_id: row.actor_id,
    actor_type: row.actor_type,
    actor_name: row.actor_name,
    actor_session_id: row.actor_session_id,
    actor_ip: row.actor_ip,
    actor_user_agent: row.actor_user_agent,
    service: row.service,
    host: row.host,
    region: row.region,
    resource_type: row.resource_type,
    resource_id: row.resource_id,
    resource_name: row.resource_name,
    request_id: row.request_id,
    trace_id: row.trace_id,
    severity: row.severity,
    attributes,
    received_at_s: receivedS,
    kafka_topic: row.kafka_topic,
    kafka_partition: row.kafka_partition,
    kafka_offset: row.kafka_offset,
    geo_country: row.geo_country,
    geo_city: row.geo_city,
    ua_browser: row.ua_browser,
    ua_os: row.ua_os,
    ua_device: row.ua_device,
    producer_id: row.producer_id ?? '',
    producer_seq: row.producer_seq ?? '0',
  };
}

/**
 * `prepareContent(chainContentFromRow(row))` in one pass, without the intermediate content
 * object: the keys are written in their canonical (sorted) order as literals. This is the
 * chainer's per-row hot path; a unit test holds the two equal (chain-prepare.test.ts) and
 * chain-pin.test.ts pins the result.
 */
export function prepareRow(row: EventRow): PreparedEntry {
  let occurredUs: string;
  let receivedS: number;
  let attributes: string;
  if ('attributes' in row) {
    occurredUs = parseClickHouseTime(row.occurred_at).toString();
    receivedS = Number(parseClickHouseTime(row.received_at) / 1_000_000n);
    // (An own `__proto__` key is dropped by the object copy chainContentFromRow makes: the generic path.)
    attributes = Object.hasOwn(row.attributes, '__proto__') ? canonicalJson(chainContentFromRow(row).attributes) : canonicalJson(row.attributes);
  } else {
    occurredUs = legacyMicros(row.occurred_at, row.occurred_at_us);
    receivedS = row.received_at;
    attributes = legacyAttributes(row);
  }
  const eventId = row.event_id.toLowerCase();
  return {
    kafka_topic: row.kafka_topic,
    kafka_partition: row.kafka_partition,
    kafka_offset: row.kafka_offset,
    event_id: eventId,
    pre:
      `{"action":${q(row.action, 'action')},"actor_id":${q(row.actor_id, 'actor_id')},"actor_ip":${q(row.actor_ip, 'actor_ip')}` +
      `,"actor_name":${q(row.actor_name, 'actor_name')},"actor_session_id":${q(row.actor_session_id, 'actor_session_id')}` +
      `,"actor_type":${q(row.actor_type, 'actor_type')},"actor_user_agent":${q(row.actor_user_agent, 'actor_user_agent')}` +
      `,"attributes":${attributes},"category":${q(row.category, 'category')},"chain_seq":`,
    mid:
      `,"event_id":${q(eventId, 'event_id')},"geo_city":${q(row.geo_city, 'geo_city')},"geo_country":${q(row.geo_country, 'geo_country')}` +
      `,"host":${q(row.host, 'host')},"kafka_offset":${q(row.kafka_offset, 'kafka_offset')}` +
      `,"kafka_partition":${canonicalValue(row.kafka_partition, 'kafka_partition')},"kafka_topic":${q(row.kafka_topic, 'kafka_topic')}` +
      `,"occurred_at_us":${q(occurredUs, 'occurred_at_us')},"outcome":${q(row.outcome, 'outcome')},"prev_hash":`,
    post:
      `,"reason":${q(row.reason, 'reason')},"received_at_s":${canonicalValue(receivedS, 'received_at_s')},"region":${q(row.region, 'region')}` +
      `,"request_id":${q(row.request_id, 'request_id')},"resource_id":${q(row.resource_id, 'resource_id')}` +
      `,"resource_name":${q(row.resource_name, 'resource_name')},"resource_type":${q(row.resource_type, 'resource_type')}` +
      `,"service":${q(row.service, 'service')},"severity":${q(row.severity, 'severity')},"tenant_id":${q(row.tenant_id, 'tenant_id')}` +
      `,"trace_id":${q(row.trace_id, 'trace_id')},"ua_browser":${q(row.ua_browser, 'ua_browser')},"ua_device":${q(row.ua_device, 'ua_device')}` +
      `,"ua_os":${q(row.ua_os, 'ua_os')},"v":1}`,
  };
}

function q(v: unknown, key: string): string {
  return typeof v === 'string' ? jsonString(v) : canonicalValue(v, key);
}

/** `(BigInt(s) * 1_000_000n + BigInt(us)).toString()`, in doubles when that is exact (every DateTime is). */
function legacyMicros(s: number, us: number): string {
  if (Number.isInteger(s) && Number.isInteger(us) && s >= 0 && s <= 4_294_967_295 && us >= 0 && us < 1_000_000) return String(s * 1_000_000 + us);
  return (BigInt(s) * 1_000_000n + BigInt(us)).toString();
}

/** canonicalJson of chainContentFromRow's attributes for a legacy row: written directly when the keys are strictly sorted (as toRow stores them). */
function legacyAttributes(row: LegacyEventRow): string {
  const keys = row.attr_keys;
  const values = row.attr_values;
  let out = '{';
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    // Unsorted or repeated keys, or one an object literal treats specially: the generic path.
    if ((i > 0 && !((keys[i - 1] as string) < k)) || typeof k !== 'string' || k === '__proto__') return canonicalJson(chainContentFromRow(row).attributes);
    const v = values[i] ?? '';
    out += `${i === 0 ? '' : ','}${jsonString(k)}:${typeof v === 'string' ? jsonString(v) : canonicalJson(v)}`;
  }
  return `${out}}`;
}

/** Attributes with keys in canonical (UTF-16 code unit) order; canonicalJson sorts again, this keeps objects stable. */
function sortedAttributes(attrs: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(attrs).sort()) out[k] = attrs[k] as string;
  return out;
}
