import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { readConfigFile } from '@auditstream/config';
import { AuditstreamError } from '@auditstream/core';

/** What a wrapped data key is bound to: unwrapping it for another subject or key id fails. */
export interface WrapContext {
  tenant: string;
  subject: string;
  keyId: string;
}

/**
 * KMS-style key wrapping: data keys are stored only wrapped by a master key the wrapper holds.
 * The local implementation keeps the master key in memory (from a file or the environment); a
 * cloud KMS (AWS KMS Encrypt/Decrypt with an encryption context, GCP KMS with AAD, Vault transit)
 * implements the same three members. `keyId` names the master key a wrapped key was made with,
 * so a rotation can tell which wrapped keys still need re-wrapping.
 */
export interface KeyWrapper {
  readonly keyId: string;
  wrap(dek: Buffer, ctx: WrapContext): Promise<string>;
  unwrap(wrapped: string, ctx: WrapContext): Promise<Buffer>;
}

const IV_BYTES = 12;
const TAG_BYTES = 16;

function ctxBytes(ctx: WrapContext): Buffer {
  return Buffer.from(JSON.stringify(['auditstream dek v1', ctx.tenant, ctx.subject, ctx.keyId]), 'utf8');
}

/** A public id for a master key (HMAC of a constant, not the key's hash): 16 hex characters. */
export function masterKeyId(key: Buffer): string {
  return createHmac('sha256', key).update('auditstream master key id').digest('hex').slice(0, 16);
}

/**
 * AES-256-GCM key wrapping under local master keys. `keys[0]` wraps; every key in the list can
 * unwrap (the previous master keys during a rotation). Wrapped form: `<master_key_id>:<base64url(iv|ct|tag)>`.
 */
export function createLocalKeyWrapper(options: { keys: readonly Buffer[] }): KeyWrapper {
  if (options.keys.length === 0) throw new AuditstreamError('CRYPTO_KEY_MISSING', 'a local key wrapper needs a master key', { field: 'master_key' });
  for (const k of options.keys)
    if (k.length !== 32) throw new AuditstreamError('CRYPTO_KEY_INVALID', `a master key must be 32 bytes, got ${k.length}`, { field: 'master_key' });
  const byId = new Map(options.keys.map((k) => [masterKeyId(k), Buffer.from(k)] as const));
  const current = masterKeyId(options.keys[0] as Buffer);
  return {
    keyId: current,
    async wrap(dek, ctx) {
      const key = byId.get(current) as Buffer;
      const iv = randomBytes(IV_BYTES);
      const c = createCipheriv('aes-256-gcm', key, iv);
      c.setAAD(ctxBytes(ctx));
      const ct = Buffer.concat([c.update(dek), c.final()]);
      return `${current}:${Buffer.concat([iv, ct, c.getAuthTag()]).toString('base64url')}`;
    },
    async unwrap(wrapped, ctx) {
      const [id, b64] = wrapped.split(':');
      const key = id ? byId.get(id) : undefined;
      if (!key || !b64)
        throw new AuditstreamError('CRYPTO_MASTER_KEY_UNKNOWN', `data key ${ctx.keyId} is wrapped by a master key this process does not hold`, {
          field: 'encryption.master_key_file',
        });
      const blob = Buffer.from(b64, 'base64url');
      try {
        const d = createDecipheriv('aes-256-gcm', key, blob.subarray(0, IV_BYTES));
        d.setAAD(ctxBytes(ctx));
        d.setAuthTag(blob.subarray(blob.length - TAG_BYTES));
        return Buffer.concat([d.update(blob.subarray(IV_BYTES, blob.length - TAG_BYTES)), d.final()]);
      } catch (cause) {
        throw new AuditstreamError('CRYPTO_UNWRAP_FAILED', `data key ${ctx.keyId} failed to unwrap (other master key, subject or altered)`, { cause });
      }
    },
  };
}

/**
 * A 32-byte master key from its textual form: 64 hex characters or base64 of 32 bytes (a file
 * may also hold the 32 raw bytes). `field` names the config key in errors; the value never appears.
 */
export function parseMasterKey(raw: Buffer | string, field: string): Buffer {
  if (Buffer.isBuffer(raw) && raw.length === 32) return Buffer.from(raw);
  const text = (Buffer.isBuffer(raw) ? raw.toString('utf8') : raw).trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(text)) {
    const b = Buffer.from(text, text.includes('-') || text.includes('_') ? 'base64url' : 'base64');
    if (b.length === 32) return b;
  }
  throw new AuditstreamError('CRYPTO_KEY_INVALID', `${field} must be 32 bytes: 64 hex characters, base64 of 32 bytes, or a file of 32 raw bytes`, {
    field,
  });
}

/**
 * Every master key: the current one first (undefined when none is set), then the previous ones
 * (encryption.previous_master_key_files), which only unwrap.
 */
export function loadMasterKeys(cfg: {
  master_key_file?: string | undefined;
  master_key?: string | undefined;
  previous_master_key_files?: readonly string[] | undefined;
}): Buffer[] | undefined {
  const current = loadMasterKey(cfg);
  if (!current) return undefined;
  const previous = (cfg.previous_master_key_files ?? []).map((f) => {
    return parseMasterKey(readConfigFile(f, 'encryption.previous_master_key_files'), 'encryption.previous_master_key_files');
  });
  return [current, ...previous];
}

/** The master key from `master_key_file` (preferred) or `master_key`; undefined when neither is set. */
export function loadMasterKey(cfg: { master_key_file?: string | undefined; master_key?: string | undefined }): Buffer | undefined {
  if (cfg.master_key_file) {
    return parseMasterKey(readConfigFile(cfg.master_key_file, 'encryption.master_key_file'), 'encryption.master_key_file');
  }
  if (cfg.master_key) return parseMasterKey(cfg.master_key, 'encryption.master_key');
  return undefined;
}

/** A new random master key as 64 hex characters (what `auditstream keys generate --master-key` writes). */
export function generateMasterKeyHex(): string {
  return randomBytes(32).toString('hex');
}
