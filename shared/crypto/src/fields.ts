import { AuditstreamError } from '@auditstream/core';
import { type DataKey, decryptField, encryptField, isEnvelope, parseEnvelope } from './envelope.js';
import type { ResolvedKey } from './store.js';

/**
 * Which event fields may be encrypted, and how to reach them on an event object (the contract's
 * AuditEvent in ingest, a stored event in the API: same shape). Identifiers that the table sorts,
 * partitions or scopes by (tenant_id, actor.id, action, occurred_at, event_id) cannot be.
 */
export const ENCRYPTABLE_FIELDS = ['actor.name', 'actor.ip', 'actor.user_agent', 'actor.session_id', 'reason', 'resource.name', 'host'] as const;
/** Fields that may name the subject whose key encrypts an event. */
export const SUBJECT_FIELDS = ['actor.id', 'resource.id'] as const;

const ATTR_RE = /^attributes\.(\*|[A-Za-z0-9_.:-]{1,128})$/;

/** undefined when the path is allowed, else why not. */
export function checkFieldPath(path: string): string | undefined {
  if ((ENCRYPTABLE_FIELDS as readonly string[]).includes(path) || ATTR_RE.test(path)) return undefined;
  return `"${path.slice(0, 80)}" is not an encryptable field (${ENCRYPTABLE_FIELDS.join(', ')}, attributes.<key> or attributes.*)`;
}

// biome-ignore lint/suspicious/noExplicitAny: events of the contract and of the storage layer share this shape.
type EventLike = { tenant_id: string; event_id: string; attributes?: Record<string, string> | null; [k: string]: any };

function get(event: EventLike, path: string): unknown {
  const [a, b] = path.split('.', 2) as [string, string | undefined];
  if (b === undefined) return event[a];
  if (a === 'attributes') return event.attributes?.[path.slice('attributes.'.length)];
  const parent = event[a];
  return parent && typeof parent === 'object' ? (parent as Record<string, unknown>)[b] : undefined;
}

function set(event: EventLike, path: string, value: string): void {
  const [a, b] = path.split('.', 2) as [string, string | undefined];
  if (b === undefined) event[a] = value;
  else if (a === 'attributes') (event.attributes as Record<string, string>)[path.slice('attributes.'.length)] = value;
  else (event[a] as Record<string, unknown>)[b] = value;
}

/** The configured paths expanded for one event (attributes.* → every attribute key it has). */
function expand(event: EventLike, fields: readonly string[]): string[] {
  const out = new Set<string>();
  for (const f of fields) {
    if (f === 'attributes.*') for (const k of Object.keys(event.attributes ?? {})) out.add(`attributes.${k}`);
    else out.add(f);
  }
  return [...out];
}

/** The subject of an event ('' when the field is empty). */
export function subjectOf(event: EventLike, subjectField: string): string {
  const v = get(event, subjectField);
  return typeof v === 'string' ? v : '';
}

/** True when the event has a configured field holding a non-empty clear value (then it needs its subject's key). */
export function needsEncryption(event: EventLike, fields: readonly string[]): boolean {
  return expand(event, fields).some((path) => {
    const v = get(event, path);
    return typeof v === 'string' && v !== '' && !isEnvelope(v);
  });
}

/**
 * Encrypts the configured fields of an event in place (non-empty strings only; a value that is
 * already an envelope is left alone, so a second pass over the same event changes nothing).
 * Returns how many fields were encrypted.
 */
export function encryptEventFields(event: EventLike, fields: readonly string[], key: DataKey): number {
  let n = 0;
  for (const path of expand(event, fields)) {
    const v = get(event, path);
    if (typeof v !== 'string' || v === '' || isEnvelope(v)) continue;
    set(event, path, encryptField(key, { tenant: event.tenant_id, eventId: event.event_id, field: path }, v));
    n++;
  }
  return n;
}

/** Every envelope an event holds, whatever the configuration says today: [path, key id]. */
export function envelopesOf(event: EventLike): [string, string][] {
  const out: [string, string][] = [];
  const check = (path: string, v: unknown) => {
    if (!isEnvelope(v)) return;
    const env = parseEnvelope(v);
    out.push([path, env ? env.keyId : '']);
  };
  for (const p of ENCRYPTABLE_FIELDS) check(p, get(event, p));
  for (const [k, v] of Object.entries(event.attributes ?? {})) check(`attributes.${k}`, v);
  return out;
}

export interface RevealOptions {
  /** Decrypt (the caller may see personal data) or mask. */
  clear: boolean;
  mask: string;
  erased: string;
  /** Shown when a live key does not authenticate the value (moved or altered): never an error. */
  invalid: string;
  /** Told of every value replaced by a marker instead of its clear text (the API reports these paths). */
  onHidden?: (path: string, as: HiddenAs) => void;
}

/** Why a value was replaced: the mask (clear not allowed), the erased marker, the invalid marker. */
export type HiddenAs = 'mask' | 'erased' | 'invalid';

/**
 * Replaces every envelope of an event in place: clear text (when allowed and the key lives),
 * the mask (not allowed), the erased marker (key destroyed), or the invalid marker. Returns the
 * number of values that failed authentication.
 */
export function revealEventFields(event: EventLike, keys: ReadonlyMap<string, ResolvedKey>, o: RevealOptions): number {
  let invalid = 0;
  for (const [path, keyId] of envelopesOf(event)) {
    if (!keyId) {
      invalid++;
      set(event, path, o.invalid);
      o.onHidden?.(path, 'invalid');
      continue;
    }
    const k = keys.get(keyId);
    if (!k || k.status === 'erased') {
      set(event, path, o.erased);
      o.onHidden?.(path, 'erased');
      continue;
    }
    if (!o.clear) {
      set(event, path, o.mask);
      o.onHidden?.(path, 'mask');
      continue;
    }
    try {
      set(event, path, decryptField(k.key, { tenant: event.tenant_id, eventId: event.event_id, field: path }, get(event, path) as string));
    } catch (err) {
      if (!(err instanceof AuditstreamError)) throw err;
      invalid++;
      set(event, path, o.invalid);
      o.onHidden?.(path, 'invalid');
    }
  }
  return invalid;
}
