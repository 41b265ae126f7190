import { isIP } from 'node:net';

/**
 * The contract's value rules as predicates (char loops on the hot path: a RegExp test costs
 * ~10x a loop here). validate.ts applies them; README.md "Validation rules" lists them.
 */

/** `action`: at least two dot-separated lowercase words. */
export const ACTION_RE = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;
export const MAX_ACTION_LENGTH = 200;

// Actions have low cardinality: remember the valid ones (bounded).
const validActions = new Set<string>();
const MAX_REMEMBERED_ACTIONS = 10_000;

export function isValidAction(action: string): boolean {
  if (validActions.has(action)) return true;
  if (action.length > MAX_ACTION_LENGTH || !ACTION_RE.test(action)) return false;
  if (validActions.size >= MAX_REMEMBERED_ACTIONS) validActions.clear();
  validActions.add(action);
  return true;
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 102);
}

/** Same as UUID_V7_RE from @auditstream/core (lowercase, version 7, RFC 9562 variant), as a char loop. */
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

/** Any lowercase RFC 9562 UUID (any version, variant 8-b): `producer_id`, which other-language producers mint with their own libraries. */
export function isLowercaseUuid(s: string): boolean {
  if (s.length !== 36) return false;
  for (let i = 0; i < 36; i++) {
    const c = s.charCodeAt(i);
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== 45) return false;
    } else if (i === 19) {
      if (c !== 56 && c !== 57 && c !== 97 && c !== 98) return false;
    } else if (!isHex(c)) return false;
  }
  return true;
}

/** Largest producer_seq: avsc encodes a long from a number only below 2^53 - 1. */
export const MAX_PRODUCER_SEQ = Number.MAX_SAFE_INTEGER - 1;

/** `producer_seq`: an integer 0..MAX_PRODUCER_SEQ (Avro long, decoded as an exact number). */
export function isProducerSeq(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX_PRODUCER_SEQ;
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
