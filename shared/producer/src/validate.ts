import { isIP } from 'node:net';
import { AuditstreamError, uuidv7 } from '@auditstream/core';
import {
  ACTOR_TYPE_SYMBOLS,
  type AuditEventInput,
  auditEventSchema,
  CATEGORY_SYMBOLS,
  OUTCOME_SYMBOLS,
  SEVERITY_SYMBOLS,
  type TimestampInput,
  toMicros,
} from '@auditstream/schemas';
import { AuditEventValidationError } from './errors.js';

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
  /** How far ahead of the producer's clock occurred_at may be. Default 5 minutes. */
  max_future_skew_ms?: number;
  /** How far in the past occurred_at may be. Default 7 days. */
  max_past_age_ms?: number;
}

export const ACTION_RE = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;
const MAX_ACTION_LENGTH = 200;

// Hot-path checks without regular expressions (a RegExp test costs ~10x a char loop here).
// Actions have low cardinality: remember the valid ones (bounded).
const validActions = new Set<string>();
const MAX_REMEMBERED_ACTIONS = 10_000;

function isValidAction(action: string): boolean {
  if (validActions.has(action)) return true;
  if (action.length > MAX_ACTION_LENGTH || !ACTION_RE.test(action)) return false;
  if (validActions.size >= MAX_REMEMBERED_ACTIONS) validActions.clear();
  validActions.add(action);
  return true;
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 102);
}

/** Same as UUID_V7_RE from @auditstream/core, as a char loop. */
export function isUuidV7(s: string): boolean {
  if (s.length !== 36) return false;
  for (let i = 0; i < 36; i++) {
    const c = s.charCodeAt(i);
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== 45) return false;
    } else if (i === 14) {
      if (c !== 55) return false;
    } else if (i === 19) {
      if (c !== 56 && c !== 57 && c !== 97 && c !== 98) return false;
    } else if (!isHex(c)) return false;
  }
  return true;
}

/** Dotted-quad IPv4 without leading zeros, else node's isIP (IPv6). */
export function isIpAddress(s: string): boolean {
  if (s.indexOf(':') >= 0) return isIP(s) === 6;
  let parts = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i === s.length ? 46 : s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || value > 255) return false;
      parts++;
      value = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && value === 0) return false; // leading zero
      value = value * 10 + (c - 48);
      if (++digits > 3) return false;
    } else return false;
  }
  return parts === 4;
}

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

function optionalString(v: unknown, field: string): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') return v;
  fail(field, 'must be a string or null');
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
  const futureMs = options.max_future_skew_ms ?? 5 * 60_000; // = PRODUCER_DEFAULTS
  const pastMs = options.max_past_age_ms ?? 7 * 24 * 3_600_000;

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
        def(e.attributes),
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
    };
  };
}
