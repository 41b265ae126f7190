import { AuditstreamError } from '@auditstream/core';
import { type ActorType, type Category, type AuditEventInput as ContractEventInput, MAX_US, MIN_US, type Outcome, type Severity } from '@auditstream/schemas';
import { type Layout, layoutFor } from './capabilities.js';
import type { ClickHouse, RequestOptions } from './client.js';
import { recordDuplicates } from './duplicates.js';
import { ACTOR_TYPES, CATEGORIES, eventColumnNames, eventColumnTypes, OUTCOMES, SEVERITIES } from './schema.js';
import { formatMicros } from './sql.js';

/**
 * Row mapping, in ONE place: the event contract (shared/schemas/audit_event.avsc, its types
 * from @auditstream/schemas) plus ingest metadata → one audit.events row, and back.
 */
export type { ActorType, Category, Outcome, Severity };

/**
 * What the row mapping accepts: the contract's input type, lenient in three places (occurred_at
 * may be a bigint, an absent severity or attributes may be null); the checks below still apply.
 */
export type AuditEventInput = Omit<ContractEventInput, 'occurred_at' | 'severity' | 'attributes'> & {
  occurred_at: number | bigint;
  severity?: Severity | null;
  attributes?: Readonly<Record<string, string>> | null;
};

/** What ingest knows about a row beyond the event: where it came from, enrichment, integrity. */
export interface IngestMeta {
  /** Kafka message timestamp. */
  received_at: Date | number;
  /** Defaults to now. */
  ingested_at?: Date | number;
  kafka_topic: string;
  kafka_partition: number;
  kafka_offset: number | bigint | string;
  geo_country?: string;
  geo_city?: string;
  ua_browser?: string;
  ua_os?: string;
  ua_device?: string;
  /** Severity ingest derived; used when the event carries none. */
  severity?: Severity;
  chain_seq?: number | bigint;
  prev_hash?: string;
  hash?: string;
}

/**
 * Columns of the event contract that both layouts store under the same name with the same value
 * (absent optionals as '', enums as their symbol), in table order. occurred_at and attributes are
 * stored differently per layout and are not listed. The integrity chain hashes these as stored.
 */
export const EVENT_CONTENT_COLUMNS = [
  'tenant_id',
  'event_id',
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
] as const;
export type EventContentColumn = (typeof EVENT_CONTENT_COLUMNS)[number];

/**
 * Ingest metadata columns (source, enrichment, integrity) that both layouts store under the same
 * name with the same value, in table order: all strings (kafka_offset and chain_seq as decimal
 * text, since UInt64 does not fit a JS number) except kafka_partition. received_at and
 * ingested_at are stored differently per layout and are not listed.
 */
export const INGEST_META_COLUMNS = [
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
  'hash',
] as const;
export type IngestMetaColumn = (typeof INGEST_META_COLUMNS)[number];

type EnumColumns = { category: Category; outcome: Outcome; actor_type: ActorType; severity: Severity };

/** INGEST_META_COLUMNS with their value types, as rows hold them and fromRow returns them. */
export type StoredIngestMeta = Record<Exclude<IngestMetaColumn, 'kafka_partition'>, string> & { kafka_partition: number };

/**
 * Loss detection (contract v2): present only on rows of events that carry them, so a row of an
 * event without them is byte for byte what it was (JSONEachRow fills the absent columns with ''
 * and 0, what an event without them stores). producer_seq as decimal text, like kafka_offset.
 */
interface ProducerColumns {
  producer_id?: string;
  producer_seq?: string;
}

type EventRowCommon = Omit<Record<EventContentColumn, string>, keyof EnumColumns> & EnumColumns & StoredIngestMeta & ProducerColumns;

/** The legacy layout (18.16): whole seconds + µs/ms columns, attributes as two aligned arrays. */
export interface LegacyEventRow extends EventRowCommon {
  /** Unix seconds. */
  occurred_at: number;
  occurred_at_us: number;
  received_at: number;
  ingested_at: number;
  /** Milliseconds within received_at / ingested_at (18.16 has no DateTime64). */
  received_at_ms: number;
  ingested_at_ms: number;
  attr_keys: string[];
  attr_values: string[];
}

/** The modern layout: DateTime64 text (`YYYY-MM-DD hh:mm:ss.ffffff`, UTC) and a Map. */
export interface ModernEventRow extends EventRowCommon {
  occurred_at: string;
  received_at: string;
  ingested_at: string;
  attributes: Record<string, string>;
}

/** One audit.events row as written with JSONEachRow. */
export type EventRow = LegacyEventRow | ModernEventRow;

/** An event read back: the contract's shape (absent optionals are null) plus what ingest stored. */
export interface StoredEvent {
  event: Required<Omit<AuditEventInput, 'occurred_at' | 'attributes'>> & { occurred_at: number; attributes: Record<string, string> };
  meta: StoredIngestMeta & { received_at: Date; ingested_at: Date };
}

/** The columns insertRows writes, in table order. */
export function eventColumns(layout: Layout): string[] {
  return eventColumnNames(layout);
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// MIN_US..MAX_US: DateTime (UInt32 seconds) holds 1970-01-01 .. 2106-02-07; both layouts accept the same range.
const sets = {
  actor_type: new Set<string>(ACTOR_TYPES),
  category: new Set<string>(CATEGORIES),
  outcome: new Set<string>(OUTCOMES),
  severity: new Set<string>(SEVERITIES),
};

function bad(field: string, what: string): never {
  // CLICKHOUSE_DATA like a server-side parse error: the caller dead-letters the event. No value in the message.
  throw new AuditstreamError('CLICKHOUSE_DATA', `event field ${field} ${what}`, { field });
}

function str(v: unknown, field: string, required = false): string {
  if (v === undefined || v === null) {
    if (required) bad(field, 'is required');
    return '';
  }
  if (typeof v !== 'string') bad(field, 'must be a string');
  if (!(v as string & { isWellFormed(): boolean }).isWellFormed()) bad(field, 'is not well-formed Unicode');
  if (required && v.length === 0) bad(field, 'must not be empty');
  return v;
}

function oneOf<T extends string>(v: unknown, set: Set<string>, field: string): T {
  if (typeof v !== 'string' || !set.has(v)) bad(field, 'is not one of the contract symbols');
  return v as T;
}

function toMicros(v: unknown, field: string): bigint {
  let us: bigint;
  if (typeof v === 'bigint') us = v;
  else if (typeof v === 'number' && Number.isSafeInteger(v)) us = BigInt(v);
  else bad(field, 'must be integer microseconds since the epoch');
  if (us < MIN_US || us >= MAX_US) bad(field, 'is outside 1970..2106');
  return us;
}

const MAX_US_NUMBER = Number(MAX_US);

/** toMicros without a BigInt for the usual case (a safe-integer number); the same checks and messages. */
function toMicrosFast(v: unknown, field: string): number | bigint {
  if (typeof v === 'number' && Number.isSafeInteger(v)) {
    if (v < 0 || v >= MAX_US_NUMBER) bad(field, 'is outside 1970..2106');
    return v;
  }
  return toMicros(v, field);
}

function toMillis(v: unknown, field: string): number {
  const ms = v instanceof Date ? v.getTime() : v;
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0 || ms >= 4_294_967_295_000) bad(field, 'must be a date between 1970 and 2106');
  return Math.floor(ms);
}

const UINT64_LIMIT = 2n ** 64n;
// Up to 19 digits without a leading zero: below 2^64 and already as BigInt(v).toString() writes it.
const CANONICAL_UINT64_SHORT = /^(?:0|[1-9][0-9]{0,18})$/;

function uint64(v: unknown, field: string): string {
  if (typeof v === 'string' && CANONICAL_UINT64_SHORT.test(v)) return v;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return String(v);
  if (typeof v === 'bigint' && v >= 0n && v < UINT64_LIMIT) return v.toString();
  if (typeof v === 'string' && /^\d{1,20}$/.test(v) && BigInt(v) < UINT64_LIMIT) return BigInt(v).toString();
  bad(field, 'must be a non-negative 64-bit integer');
}

function formatMillis(ms: number): string {
  return new Date(ms).toISOString().slice(0, 23).replace('T', ' ');
}

/**
 * Event + ingest metadata → one row for the given layout. Throws CLICKHOUSE_DATA naming the field.
 * Runs once per stored event: values are checked into locals (in this order, so the first bad
 * field is the one named) and the row is built as one literal of the shared columns plus the
 * layout's own, keys in table order.
 */
export function toRow(event: AuditEventInput, meta: IngestMeta, layout: Layout): EventRow {
  if (!event || typeof event !== 'object') bad('event', 'must be an object');
  const actor = event.actor;
  if (!actor || typeof actor !== 'object') bad('actor', 'is required');
  const eventId = str(event.event_id, 'event_id', true);
  if (!UUID_RE.test(eventId)) bad('event_id', 'must be a UUID');
  const us = toMicrosFast(event.occurred_at, 'occurred_at');
  const resource = event.resource ?? null;
  if (resource !== null && typeof resource !== 'object') bad('resource', 'must be an object or null');
  const partition = meta.kafka_partition;
  if (!Number.isInteger(partition) || partition < 0 || partition > 4_294_967_295) bad('kafka_partition', 'must be a UInt32');
  const attrs = event.attributes ?? {};
  if (typeof attrs !== 'object') bad('attributes', 'must be a map of strings');
  const keys = Object.keys(attrs);
  if (keys.length > 1) sortKeys(keys);
  const values: string[] = new Array(keys.length);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    str(k, 'attributes', false);
    const v = attrs[k];
    if (typeof v !== 'string' || !(v as string & { isWellFormed(): boolean }).isWellFormed())
      bad(`attributes.${k.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64)}`, 'must be a well-formed string');
    values[i] = v;
  }
  const hash = str(meta.hash, 'hash');
  const prevHash = str(meta.prev_hash, 'prev_hash');
  const tenantId = str(event.tenant_id, 'tenant_id', true);
  const action = str(event.action, 'action', true);
  const category = oneOf<Category>(event.category, sets.category, 'category');
  const outcome = oneOf<Outcome>(event.outcome, sets.outcome, 'outcome');
  const reason = str(event.reason, 'reason');
  const actorId = str(actor.id, 'actor.id', true);
  const actorType = oneOf<ActorType>(actor.type, sets.actor_type, 'actor.type');
  const actorName = str(actor.name, 'actor.name');
  const actorSessionId = str(actor.session_id, 'actor.session_id');
  const actorIp = str(actor.ip, 'actor.ip');
  const actorUserAgent = str(actor.user_agent, 'actor.user_agent');
  const service = str(event.service, 'service', true);
  const host = str(event.host, 'host');
  const region = str(event.region, 'region');
  const resourceType = resource ? str(resource.type, 'resource.type', true) : '';
  const resourceId = resource ? str(resource.id, 'resource.id', true) : '';
  const resourceName = resource ? str(resource.name, 'resource.name') : '';
  const requestId = str(event.request_id, 'request_id');
  const traceId = str(event.trace_id, 'trace_id');
  const severity = oneOf<Severity>(event.severity ?? meta.severity ?? 'info', sets.severity, 'severity');
  const kafkaTopic = str(meta.kafka_topic, 'kafka_topic', true);
  const kafkaOffset = uint64(meta.kafka_offset, 'kafka_offset');
  const geoCountry = str(meta.geo_country, 'geo_country');
  const geoCity = str(meta.geo_city, 'geo_city');
  const uaBrowser = str(meta.ua_browser, 'ua_browser');
  const uaOs = str(meta.ua_os, 'ua_os');
  const uaDevice = str(meta.ua_device, 'ua_device');
  const chainSeq = uint64(meta.chain_seq ?? 0, 'chain_seq');
  const producerId = event.producer_id ?? null;
  if (producerId !== null && (typeof producerId !== 'string' || !UUID_RE.test(producerId))) bad('producer_id', 'must be a UUID');
  const producerSeq = producerId === null ? undefined : uint64(event.producer_seq, 'producer_seq');
  const received = toMillis(meta.received_at, 'received_at');
  const ingested = toMillis(meta.ingested_at ?? Date.now(), 'ingested_at');
  // The columns both layouts share, as one literal in table order; the layout's own columns
  // follow (same key order as the table, so the JSONEachRow text is unchanged).
  const common: EventRowCommon = {
    tenant_id: tenantId,
    event_id: eventId.toLowerCase(),
    action,
    category,
    outcome,
    reason,
    actor_id: actorId,
    actor_type: actorType,
    actor_name: actorName,
    actor_session_id: actorSessionId,
    actor_ip: actorIp,
    actor_user_agent: actorUserAgent,
    service,
    host,
    region,
    resource_type: resourceType,
    resource_id: resourceId,
    resource_name: resourceName,
    request_id: requestId,
    trace_id: traceId,
    severity,
    kafka_topic: kafkaTopic,
    kafka_partition: partition,
    kafka_offset: kafkaOffset,
    geo_country: geoCountry,
    geo_city: geoCity,
    ua_browser: uaBrowser,
    ua_os: uaOs,
    ua_device: uaDevice,
    chain_seq: chainSeq,
    prev_hash: prevHash,
    hash,
  };
  if (producerId !== null) {
    common.producer_id = producerId;
    common.producer_seq = producerSeq;
  }
  if (layout === 'modern') {
    const attributes: Record<string, string> = {};
    for (let i = 0; i < keys.length; i++) attributes[keys[i] as string] = values[i] as string;
    const row = common as ModernEventRow;
    row.occurred_at = formatMicros(BigInt(us));
    row.received_at = formatMillis(received);
    row.ingested_at = formatMillis(ingested);
    row.attributes = attributes;
    return row;
  }
  // Whole seconds + µs; exact in doubles (us < 2^53), so no BigInt division for a number.
  let occurredS: number;
  let occurredUs: number;
  if (typeof us === 'number') {
    occurredUs = us % 1_000_000 || 0; // (-0 → 0, as Number(0n) gives)
    occurredS = (us - occurredUs) / 1_000_000;
  } else {
    occurredS = Number(us / 1_000_000n);
    occurredUs = Number(us % 1_000_000n);
  }
  const row = common as LegacyEventRow;
  row.occurred_at = occurredS;
  row.occurred_at_us = occurredUs;
  row.received_at = Math.floor(received / 1000);
  row.ingested_at = Math.floor(ingested / 1000);
  row.received_at_ms = received % 1000;
  row.ingested_at_ms = ingested % 1000;
  row.attr_keys = keys;
  row.attr_values = values;
  return row;
}

/**
 * `keys.sort()` (UTF-16 code unit order) in place. A few keys are sorted by insertion, which
 * allocates nothing; Array.prototype.sort allocates its work state on every call (toRow's
 * largest single allocation per event, with the usual two or three attributes).
 */
function sortKeys(keys: string[]): void {
  if (keys.length > 16) {
    keys.sort();
    return;
  }
  for (let i = 1; i < keys.length; i++) {
    const k = keys[i] as string;
    let j = i - 1;
    while (j >= 0 && (keys[j] as string) > k) {
      keys[j + 1] = keys[j] as string;
      j--;
    }
    keys[j + 1] = k;
  }
}

/** `YYYY-MM-DD hh:mm:ss[.ffffff]` (UTC, as ClickHouse prints DateTime('UTC')/DateTime64) → µs. */
export function parseClickHouseTime(text: string): bigint {
  const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?$/.exec(text);
  if (!m) throw new AuditstreamError('CLICKHOUSE_DATA', 'unexpected DateTime text from ClickHouse', { field: 'occurred_at' });
  const ms = Date.parse(`${m[1]}T${m[2]}Z`);
  const frac = (m[3] ?? '').padEnd(6, '0').slice(0, 6);
  return BigInt(ms) * 1000n + BigInt(frac);
}

const nul = (s: string): string | null => (s === '' ? null : s);

/** A row as ClickHouse returns it (JSONEachRow of the event columns) → the contract's shape + metadata. */
export function fromRow(row: Record<string, unknown>): StoredEvent {
  const s = (k: string) => String(row[k] ?? '');
  let us = parseClickHouseTime(s('occurred_at'));
  let attributes: Record<string, string> = {};
  if (Array.isArray(row.attr_keys)) {
    us += BigInt(Number(row.occurred_at_us ?? 0));
    const vals = (row.attr_values as string[]) ?? [];
    (row.attr_keys as string[]).forEach((k, i) => {
      attributes[k] = vals[i] ?? '';
    });
  } else if (row.attributes && typeof row.attributes === 'object') {
    attributes = { ...(row.attributes as Record<string, string>) };
  }
  const resourceId = s('resource_id');
  return {
    event: {
      event_id: s('event_id'),
      tenant_id: s('tenant_id'),
      occurred_at: Number(us),
      actor: {
        id: s('actor_id'),
        type: s('actor_type') as ActorType,
        name: nul(s('actor_name')),
        session_id: nul(s('actor_session_id')),
        ip: nul(s('actor_ip')),
        user_agent: nul(s('actor_user_agent')),
      },
      action: s('action'),
      category: s('category') as Category,
      outcome: s('outcome') as Outcome,
      reason: nul(s('reason')),
      service: s('service'),
      host: nul(s('host')),
      region: nul(s('region')),
      resource: resourceId === '' ? null : { type: s('resource_type'), id: resourceId, name: nul(s('resource_name')) },
      request_id: nul(s('request_id')),
      trace_id: nul(s('trace_id')),
      severity: s('severity') as Severity,
      attributes,
      producer_id: nul(s('producer_id')),
      producer_seq: s('producer_id') === '' ? null : Number(s('producer_seq')),
    },
    meta: {
      // Legacy: whole seconds + the ms column (0 for rows stored before 006_events_source_key).
      received_at: new Date(Number(parseClickHouseTime(s('received_at')) / 1000n) + Number(row.received_at_ms ?? 0)),
      ingested_at: new Date(Number(parseClickHouseTime(s('ingested_at')) / 1000n) + Number(row.ingested_at_ms ?? 0)),
      kafka_topic: s('kafka_topic'),
      kafka_partition: Number(row.kafka_partition ?? 0),
      kafka_offset: s('kafka_offset'),
      geo_country: s('geo_country'),
      geo_city: s('geo_city'),
      ua_browser: s('ua_browser'),
      ua_os: s('ua_os'),
      ua_device: s('ua_device'),
      chain_seq: s('chain_seq'),
      prev_hash: s('prev_hash'),
      hash: s('hash'),
    },
  };
}

/**
 * Inserts rows built by toRow for this server's layout, in one request (RowBinary or JSONEachRow), then records
 * the ids stored more than once (exact counts, duplicates.ts), before the caller commits.
 */
export async function insertRows(ch: ClickHouse, rows: readonly EventRow[], options: RequestOptions = {}): Promise<void> {
  await insertEventRows(ch, rows, options);
  await recordDuplicates(ch, rows, options);
}

/**
 * The INSERT of insertRows alone. The caller must run recordDuplicates for the same rows before it
 * commits them (ingest runs it alongside its bookkeeping after the INSERT).
 */
export async function insertEventRows(ch: ClickHouse, rows: readonly EventRow[], options: RequestOptions = {}): Promise<void> {
  if (rows.length === 0) return;
  const layout = layoutFor(await ch.capabilities());
  const wantModern = layout === 'modern';
  if ('attributes' in (rows[0] as object) !== wantModern)
    throw new AuditstreamError('CLICKHOUSE_DATA', `rows were built for the ${wantModern ? 'legacy' : 'modern'} layout, the server has ${layout}`, {
      field: 'rows',
    });
  const values = rows as unknown as Record<string, unknown>[];
  if (ch.binaryInserts) await ch.insertRowBinary('events', values, eventColumnTypes(layout), { operation: 'insert_events', ...options });
  else await ch.insertJson('events', values, { operation: 'insert_events', ...options, columns: eventColumns(layout) });
}

/** toRow for the connected server, then insertRows. */
export async function insertEvents(
  ch: ClickHouse,
  items: readonly { event: AuditEventInput; meta: IngestMeta }[],
  options: RequestOptions = {},
): Promise<void> {
  const layout = layoutFor(await ch.capabilities());
  await insertRows(
    ch,
    items.map((i) => toRow(i.event, i.meta, layout)),
    options,
  );
}
