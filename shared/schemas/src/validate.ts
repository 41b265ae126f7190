import { AuditstreamError, uuidv7 } from '@auditstream/core';
import { isIpAddress, isLowercaseUuid, isProducerSeq, isUuidV7, isValidAction, MAX_ACTION_LENGTH } from './rules.js';
import { auditEventSchema } from './schema.js';
import { type TimestampInput, toMicros } from './time.js';
import { ACTOR_TYPE_SYMBOLS, type AuditEvent, type AuditEventInput, CATEGORY_SYMBOLS, OUTCOME_SYMBOLS, SEVERITY_SYMBOLS } from './types.generated.js';

/**
 * THE validator: the contract's rules beyond what Avro types can say. The SDK runs it before
 * encoding (createEventNormalizer), ingest and alerting run it on every decoded event
 * (validateAuditEvent, judged against the Kafka message timestamp), the HTTP collector runs it
 * through the SDK. README.md "Validation rules" lists every rule.
 */

/** An event that breaks the contract. `field` is the dotted path, e.g. `actor.type`; the message never quotes the value. */
export class AuditEventValidationError extends AuditstreamError {
  constructor(field: string, message: string, code: 'EVENT_INVALID' | 'EVENT_TOO_LARGE' = 'EVENT_INVALID') {
    super(code, message, { field });
    this.name = 'AuditEventValidationError';
  }
}

/** What publish() takes: the contract, with event_id and occurred_at optional (the SDK fills them). */
export type PublishInput = Omit<AuditEventInput, 'event_id' | 'occurred_at'> & {
  /** UUIDv7; generated when absent. Pass one to make retries idempotent. */
  event_id?: string;
  /** Date, ISO 8601 string with zone, or microseconds (number/bigint); now when absent. */
  occurred_at?: TimestampInput;
};

/** The normalised event handed to the codec: every field present, fixed shape. */
export type NormalizedEvent = AuditEventInput & { event_id: string; occurred_at: number };

export interface ValidationOptions {
  /** How far ahead of "now" (the producer's clock; the Kafka timestamp downstream) occurred_at may be. Default 5 minutes. */
  max_future_skew_ms?: number;
  /** How far before "now" occurred_at may be. Default 7 days. */
  max_past_age_ms?: number;
}

/** The occurred_at window ingest and alerting hold every event to (the SDK's defaults). */
export const EVENT_TIME_WINDOW = Object.freeze({ max_future_skew_ms: 5 * 60_000, max_past_age_ms: 7 * 24 * 3_600_000 });

type Node = { name: string; type: unknown };
function fieldNames(record: unknown): Set<string> {
  return new Set(((record as { fields: Node[] }).fields ?? []).map((f) => f.name));
}
function nestedRecord(name: string): unknown {
  const f = (auditEventSchema as unknown as { fields: Node[] }).fields.find((x) => x.name === name);
  const t = f?.type;
  return Array.isArray(t) ? t.find((b) => typeof b === 'object') : t;
}

const TOP_FIELDS = fieldNames(auditEventSchema);
const ACTOR_FIELDS = fieldNames(nestedRecord('actor'));
const RESOURCE_FIELDS = fieldNames(nestedRecord('resource'));
const ACTOR_TYPES = new Set<string>(ACTOR_TYPE_SYMBOLS);
const CATEGORIES = new Set<string>(CATEGORY_SYMBOLS);
const OUTCOMES = new Set<string>(OUTCOME_SYMBOLS);
const SEVERITIES = new Set<string>(SEVERITY_SYMBOLS);
const EMPTY_ATTRIBUTES: Record<string, string> = Object.freeze({}) as Record<string, string>;

function fail(field: string, message: string): never {
  throw new AuditEventValidationError(field, `${field} ${message}`);
}

function requiredString(v: unknown, field: string): string {
  if (typeof v === 'string' && v.length > 0) return v;
  if (v === undefined || v === null) fail(field, 'is required');
  fail(field, 'must be a non-empty string');
}

// "" is not a value of an optional string: the store keeps absent as '' (see README.md), so
// accepting it would read back as null. Absent is null (or a missing key).
function optionalString(v: unknown, field: string): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') {
    if (v.length > 0) return v;
    fail(field, 'must not be an empty string: send null or leave it out when there is no value');
  }
  fail(field, 'must be a non-empty string or null');
}

function symbol(v: unknown, field: string, allowed: Set<string>, list: readonly string[]): string {
  if (typeof v === 'string' && allowed.has(v)) return v;
  if (v === undefined || v === null) fail(field, 'is required');
  fail(field, `must be one of ${list.join(', ')}`);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Slow path: names the first own key the schema does not know. */
function failOnUnknownKey(obj: Record<string, unknown>, known: Set<string>, prefix: string): void {
  for (const k in obj) {
    if (!known.has(k) && Object.hasOwn(obj, k)) fail(`${prefix}${k}`, 'is not a field of the AuditEvent schema');
  }
}

/**
 * Cheap unknown-key detection: `seen` is how many known fields the caller found defined;
 * only when the object has more own keys than that is the slow path run to name the key.
 */
function checkKeys(obj: Record<string, unknown>, seen: number, known: Set<string>, prefix: string): void {
  // Counted with for-in rather than Object.keys(obj).length: no array per call (it was the
  // validator's largest allocation). for-in also sees inherited enumerable keys; those are
  // counted too, so an object with any goes to the slow path, which names only own keys.
  let n = 0;
  for (const _ in obj) n++;
  if (n !== seen) failOnUnknownKey(obj, known, prefix);
}

function absent(v: unknown): boolean {
  return v === undefined || v === null;
}

function def(v: unknown): number {
  return v === undefined ? 0 : 1;
}

/**
 * Validates an event against the contract and fills what the SDK owns (event_id,
 * occurred_at, defaults). Throws AuditEventValidationError (code EVENT_INVALID) naming the
 * dotted field; messages never include the offending value. Returns a new top-level object
 * (the caller's is never mutated) that shares the validated actor, resource and attributes
 * objects: encode it before the caller can change them (publish() does, synchronously).
 */
export function createEventNormalizer(options: ValidationOptions = {}): (input: PublishInput, nowMs: number) => NormalizedEvent {
  const futureMs = options.max_future_skew_ms ?? EVENT_TIME_WINDOW.max_future_skew_ms;
  const pastMs = options.max_past_age_ms ?? EVENT_TIME_WINDOW.max_past_age_ms;

  return function normalize(input: PublishInput, nowMs: number): NormalizedEvent {
    if (!isPlainObject(input)) fail('event', 'must be an object');
    const e = input as unknown as Record<string, unknown>;

    const a = e.actor;
    if (a === undefined || a === null) fail('actor', 'is required');
    if (!isPlainObject(a)) fail('actor', 'must be an object');
    checkKeys(a, def(a.id) + def(a.type) + def(a.name) + def(a.session_id) + def(a.ip) + def(a.user_agent), ACTOR_FIELDS, 'actor.');
    const ip = optionalString(a.ip, 'actor.ip');
    if (ip !== null && !isIpAddress(ip)) fail('actor.ip', 'must be an IPv4 or IPv6 address');
    requiredString(a.id, 'actor.id');
    symbol(a.type, 'actor.type', ACTOR_TYPES, ACTOR_TYPE_SYMBOLS);
    optionalString(a.name, 'actor.name');
    optionalString(a.session_id, 'actor.session_id');
    optionalString(a.user_agent, 'actor.user_agent');
    // Validated, with no unknown keys: the encoder reads it as is (absent optionals → null).
    const actor = a as unknown as NormalizedEvent['actor'];

    const action = requiredString(e.action, 'action');
    if (!isValidAction(action)) {
      fail('action', `must be at least two dot-separated lowercase words ([a-z][a-z0-9_]*), at most ${MAX_ACTION_LENGTH} characters, e.g. auth.login`);
    }

    let resource: NormalizedEvent['resource'] = null;
    const r = e.resource;
    if (r !== undefined && r !== null) {
      if (!isPlainObject(r)) fail('resource', 'must be an object or null');
      checkKeys(r, def(r.type) + def(r.id) + def(r.name), RESOURCE_FIELDS, 'resource.');
      requiredString(r.type, 'resource.type');
      requiredString(r.id, 'resource.id');
      optionalString(r.name, 'resource.name');
      resource = r as unknown as NormalizedEvent['resource'];
    }

    let attributes = EMPTY_ATTRIBUTES;
    if (e.attributes !== undefined && e.attributes !== null) {
      if (!isPlainObject(e.attributes)) fail('attributes', 'must be an object of string values');
      // Values are checked by the Avro encoder (map<string>), which names attributes.<key>.
      attributes = e.attributes as Record<string, string>;
    }

    let event_id: string;
    if (e.event_id === undefined || e.event_id === null) event_id = uuidv7(nowMs);
    else if (typeof e.event_id === 'string' && isUuidV7(e.event_id)) event_id = e.event_id;
    else fail('event_id', 'must be a lowercase UUIDv7 string');

    let occurred_at: number;
    if (e.occurred_at === undefined || e.occurred_at === null) occurred_at = nowMs * 1000;
    else {
      try {
        occurred_at = toMicros(e.occurred_at as TimestampInput, 'occurred_at');
      } catch (err) {
        throw new AuditEventValidationError('occurred_at', err instanceof AuditstreamError ? err.message : 'occurred_at is invalid');
      }
      if (occurred_at > (nowMs + futureMs) * 1000) fail('occurred_at', `is more than ${futureMs} ms in the future (max_future_skew_ms)`);
      if (occurred_at < (nowMs - pastMs) * 1000) fail('occurred_at', `is more than ${pastMs} ms in the past (max_past_age_ms)`);
    }

    // Loss detection numbers events per producer: an id without a number (or the reverse) cannot be tracked.
    let producer_id: string | null = null;
    let producer_seq: number | null = null;
    if (!absent(e.producer_id) || !absent(e.producer_seq)) {
      if (absent(e.producer_id)) fail('producer_id', 'is required when producer_seq is set');
      if (typeof e.producer_id !== 'string' || !isLowercaseUuid(e.producer_id)) fail('producer_id', 'must be a lowercase UUID string');
      if (absent(e.producer_seq)) fail('producer_seq', 'is required when producer_id is set');
      if (!isProducerSeq(e.producer_seq)) fail('producer_seq', 'must be an integer from 0 to 2^53-2');
      producer_id = e.producer_id;
      producer_seq = e.producer_seq;
    }

    checkKeys(
      e,
      def(e.event_id) +
        def(e.tenant_id) +
        def(e.occurred_at) +
        1 + // actor
        1 + // action
        def(e.category) +
        def(e.outcome) +
        def(e.reason) +
        def(e.service) +
        def(e.host) +
        def(e.region) +
        def(e.resource) +
        def(e.request_id) +
        def(e.trace_id) +
        def(e.severity) +
        def(e.attributes) +
        def(e.producer_id) +
        def(e.producer_seq),
      TOP_FIELDS,
      '',
    );
    return {
      event_id,
      tenant_id: requiredString(e.tenant_id, 'tenant_id'),
      occurred_at,
      actor,
      action,
      category: symbol(e.category, 'category', CATEGORIES, CATEGORY_SYMBOLS) as NormalizedEvent['category'],
      outcome: symbol(e.outcome, 'outcome', OUTCOMES, OUTCOME_SYMBOLS) as NormalizedEvent['outcome'],
      reason: optionalString(e.reason, 'reason'),
      service: requiredString(e.service, 'service'),
      host: optionalString(e.host, 'host'),
      region: optionalString(e.region, 'region'),
      resource,
      request_id: optionalString(e.request_id, 'request_id'),
      trace_id: optionalString(e.trace_id, 'trace_id'),
      severity: (e.severity === undefined || e.severity === null
        ? 'info'
        : symbol(e.severity, 'severity', SEVERITIES, SEVERITY_SYMBOLS)) as NormalizedEvent['severity'],
      attributes,
      producer_id,
      producer_seq,
    };
  };
}

const contract = createEventNormalizer(EVENT_TIME_WINDOW);

/**
 * Checks a decoded event against the contract, the same function the SDK runs, with the
 * time window judged against `receivedAtMs` (the Kafka message timestamp, never the wall
 * clock: a redelivered message gets the same verdict). Throws AuditEventValidationError.
 */
export function validateAuditEvent(event: AuditEvent | AuditEventInput, receivedAtMs: number): void {
  contract(event as unknown as PublishInput, receivedAtMs);
}
