import { createCipheriv, createDecipheriv, createHmac, hkdfSync } from 'node:crypto';
import { AuditstreamError } from '@auditstream/core';

/**
 * The field envelope: AES-256-GCM under a subject's data key (DEK), stored as a self-describing
 * string in the field's own String column:
 *
 *   enc:v1:<key_id>:<base64url(iv ‖ ciphertext ‖ tag)>
 *
 * - The key id says which data key decrypts it (and so whose key an erasure destroys).
 * - AAD binds the ciphertext to (tenant, event_id, field path, key id): a value moved to another
 *   row or field fails authentication instead of decrypting.
 * - The IV is synthetic and deterministic: HMAC-SHA256(iv_key, aad ‖ plaintext)[:12]. Encrypting
 *   the same event twice (re-delivery after a crash, hash chain recomputed) gives the same bytes,
 *   and two different plaintexts never share an IV under one key (unless HMAC collides in 96
 *   bits), even if a producer reuses an event_id. What it reveals: that two encryptions under the
 *   same key, event, field and plaintext are equal, which they are by construction.
 * - enc_key and iv_key are derived from the DEK with HKDF-SHA256 (separate keys for AES and HMAC).
 */
export const ENVELOPE_PREFIX = 'enc:v1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

/** What the ciphertext is bound to. */
export interface FieldContext {
  tenant: string;
  eventId: string;
  /** Dotted field path, e.g. actor.ip or attributes.email. */
  field: string;
}

/** A subject's data key, ready to use: derived sub-keys computed once. */
export interface DataKey {
  readonly keyId: string;
  readonly encKey: Buffer;
  readonly ivKey: Buffer;
}

export function isValidKeyId(keyId: string): boolean {
  return KEY_ID_RE.test(keyId);
}

/** Derives the AES and IV keys from a 32-byte data key. */
export function dataKey(keyId: string, dek: Buffer): DataKey {
  if (!isValidKeyId(keyId)) throw new AuditstreamError('CRYPTO_KEY_INVALID', 'a data key id must be 1..64 characters [A-Za-z0-9_-]', { field: 'key_id' });
  if (dek.length !== 32) throw new AuditstreamError('CRYPTO_KEY_INVALID', `a data key must be 32 bytes, got ${dek.length}`, { field: 'dek' });
  const derive = (info: string) => Buffer.from(hkdfSync('sha256', dek, Buffer.alloc(0), `auditstream field-encryption v1 ${info}`, 32));
  return Object.freeze({ keyId, encKey: derive('enc'), ivKey: derive('iv') });
}

function aad(ctx: FieldContext, keyId: string): Buffer {
  // Length-prefixed parts: no two different contexts encode to the same bytes.
  const parts = ['v1', ctx.tenant, ctx.eventId, ctx.field, keyId].map((s) => Buffer.from(s, 'utf8'));
  const out: Buffer[] = [];
  for (const p of parts) {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(p.length);
    out.push(len, p);
  }
  return Buffer.concat(out);
}

export function encryptField(key: DataKey, ctx: FieldContext, plaintext: string): string {
  const ad = aad(ctx, key.keyId);
  const pt = Buffer.from(plaintext, 'utf8');
  const iv = createHmac('sha256', key.ivKey).update(ad).update(pt).digest().subarray(0, IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key.encKey, iv);
  cipher.setAAD(ad);
  const ct = Buffer.concat([cipher.update(pt), cipher.final()]);
  return `${ENVELOPE_PREFIX}${key.keyId}:${Buffer.concat([iv, ct, cipher.getAuthTag()]).toString('base64url')}`;
}

export interface ParsedEnvelope {
  keyId: string;
  blob: Buffer;
}

export function isEnvelope(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith(ENVELOPE_PREFIX);
}

/** The key id and the raw bytes of an envelope; undefined when the value is not one (or is malformed). */
export function parseEnvelope(value: string): ParsedEnvelope | undefined {
  if (!value.startsWith(ENVELOPE_PREFIX)) return undefined;
  const rest = value.slice(ENVELOPE_PREFIX.length);
  const colon = rest.indexOf(':');
  if (colon <= 0) return undefined;
  const keyId = rest.slice(0, colon);
  const b64 = rest.slice(colon + 1);
  if (!isValidKeyId(keyId) || !/^[A-Za-z0-9_-]*$/.test(b64)) return undefined;
  const blob = Buffer.from(b64, 'base64url');
  if (blob.length < IV_BYTES + TAG_BYTES) return undefined;
  return { keyId, blob };
}

/**
 * Decrypts an envelope. Throws CRYPTO_DECRYPT_FAILED (no detail about why: wrong key, other row,
 * other field, tampered bytes all look the same) or CRYPTO_ENVELOPE_INVALID.
 */
export function decryptField(key: DataKey, ctx: FieldContext, value: string): string {
  const env = parseEnvelope(value);
  if (!env) throw new AuditstreamError('CRYPTO_ENVELOPE_INVALID', `field ${ctx.field} does not hold a well-formed enc:v1 envelope`, { field: ctx.field });
  if (env.keyId !== key.keyId) throw new AuditstreamError('CRYPTO_DECRYPT_FAILED', `field ${ctx.field} is encrypted under another key`, { field: ctx.field });
  const iv = env.blob.subarray(0, IV_BYTES);
  const tag = env.blob.subarray(env.blob.length - TAG_BYTES);
  const ct = env.blob.subarray(IV_BYTES, env.blob.length - TAG_BYTES);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key.encKey, iv);
    decipher.setAAD(aad(ctx, key.keyId));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(ct), decipher.final()]).toString('utf8');
  } catch (cause) {
    throw new AuditstreamError('CRYPTO_DECRYPT_FAILED', `field ${ctx.field} failed authentication (wrong key, row or field, or altered)`, {
      cause,
      field: ctx.field,
    });
  }
}
