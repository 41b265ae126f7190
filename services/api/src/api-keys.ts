import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ClickHouse } from '@auditstream/clickhouse';
import { AuditstreamError } from '@auditstream/core';
import { findApiKey, insertApiKeyPermission, insertApiKeyRow, listApiKeys as listRows, type StoredApiKey } from './queries/api-keys.js';
import { isRole, type Principal, type Role } from './scope.js';
import { isWellFormed } from './text.js';

/**
 * API keys: `ask_<id>_<secret>`, where id is 16 hex characters (public: listed, logged, the
 * actor id of self-audit events) and secret is 32 random bytes in base64url (43 characters).
 * Only SHA-256(secret) is stored (audit.api_keys.hash): the secret is high-entropy, so a fast
 * hash is enough (no password stretching needed), and it is shown once, at creation.
 * Verification compares hashes in constant time.
 */
export const API_KEY_PREFIX = 'ask_';
const KEY_RE = /^ask_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export interface ParsedApiKey {
  id: string;
  secret: string;
}

export function parseApiKey(token: string): ParsedApiKey | undefined {
  const m = KEY_RE.exec(token);
  return m ? { id: m[1] as string, secret: m[2] as string } : undefined;
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

export function generateApiKey(): { id: string; secret: string; key: string; hash: string } {
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return { id, secret, key: `${API_KEY_PREFIX}${id}_${secret}`, hash: hashSecret(secret) };
}

/** Constant-time comparison of the presented secret's hash with the stored hash. */
export function secretMatches(secret: string, storedHashHex: string): boolean {
  const given = createHash('sha256').update(secret, 'utf8').digest();
  const stored = Buffer.from(/^[0-9a-f]{64}$/.test(storedHashHex) ? storedHashHex : '00'.repeat(32), 'hex');
  return timingSafeEqual(given, stored) && /^[0-9a-f]{64}$/.test(storedHashHex);
}

export interface ApiKeyInfo {
  id: string;
  role: Role;
  tenants: string[];
  created_at: Date;
  revoked_at: Date | null;
  /** May read decrypted personal fields (the PII permission). */
  pii: boolean;
}

function info(k: StoredApiKey): ApiKeyInfo {
  return {
    id: k.id,
    role: k.role,
    tenants: k.tenants,
    created_at: new Date(Number(k.created_at / 1000n)),
    revoked_at: k.revoked_at === null ? null : new Date(Number(k.revoked_at / 1000n)),
    pii: k.permissions.includes('pii'),
  };
}

/** Validates role and tenants for a new key: admin is all tenants; auditors need tenants. */
export function checkKeySpec(role: string, tenants: readonly string[]): { role: Role; tenants: string[] } {
  if (!isRole(role)) throw new AuditstreamError('USAGE', '--role must be auditor, admin or service', { field: 'role' });
  for (const t of tenants) {
    if (t.length === 0 || t.length > 256 || /[\u0000-\u001f\u007f]/.test(t) || !isWellFormed(t))
      throw new AuditstreamError('USAGE', '--tenant must be 1..256 printable characters', { field: 'tenant' });
  }
  if (role === 'admin') {
    if (tenants.length > 0 && !(tenants.length === 1 && tenants[0] === '*'))
      throw new AuditstreamError('USAGE', 'admin keys read every tenant; leave out --tenant', { field: 'tenant' });
    return { role, tenants: ['*'] };
  }
  if (role === 'auditor' && tenants.length === 0)
    throw new AuditstreamError('USAGE', 'auditor keys need at least one --tenant (or --tenant "*" for every tenant)', { field: 'tenant' });
  if (tenants.includes('*') && tenants.length > 1)
    throw new AuditstreamError('USAGE', '--tenant "*" (every tenant) cannot be combined with other tenants', { field: 'tenant' });
  return { role, tenants: [...new Set(tenants)] };
}

/**
 * Creates a key; the returned `key` is the only time the secret exists outside the caller.
 * `pii`: the key may read decrypted personal fields (docs/field-encryption.md); never implied by
 * a role, and not for service keys (they read nothing). The permission is stored before the key,
 * so the key never exists without it.
 */
export async function createApiKey(ch: ClickHouse, spec: { role: string; tenants: readonly string[]; pii?: boolean }): Promise<ApiKeyInfo & { key: string }> {
  const { role, tenants } = checkKeySpec(spec.role, spec.tenants);
  if (spec.pii && role === 'service') throw new AuditstreamError('USAGE', '--pii is for auditor and admin keys (service keys read nothing)', { field: 'pii' });
  const k = generateApiKey();
  const now = Math.floor(Date.now() / 1000);
  if (spec.pii) await insertApiKeyPermission(ch, { id: k.id, permission: 'pii', at_s: now });
  await insertApiKeyRow(ch, { id: k.id, hash: k.hash, role, tenants, created_at_s: now, revoked_at_s: null, updated_at_s: now });
  return { id: k.id, role, tenants, created_at: new Date(now * 1000), revoked_at: null, pii: spec.pii === true, key: k.key };
}

export async function listApiKeys(ch: ClickHouse): Promise<ApiKeyInfo[]> {
  return (await listRows(ch)).map(info);
}

/** Revokes a key by id; revoking a revoked key is a no-op that says so. */
export async function revokeApiKey(ch: ClickHouse, id: string): Promise<{ id: string; alreadyRevoked: boolean }> {
  if (!/^[0-9a-f]{16}$/.test(id))
    throw new AuditstreamError('USAGE', 'the key id is 16 lowercase hex characters (see `auditstream apikey list`)', { field: 'id' });
  const k = await findApiKey(ch, id);
  if (!k) throw new AuditstreamError('NOT_FOUND', `no API key with id ${id}`, { field: 'id' });
  if (k.revoked_at !== null) return { id, alreadyRevoked: true };
  const now = Math.floor(Date.now() / 1000);
  const created = Number(k.created_at / 1_000_000n);
  await insertApiKeyRow(ch, {
    id,
    hash: k.hash,
    role: k.role,
    tenants: k.tenants,
    created_at_s: created,
    revoked_at_s: now,
    // Later than the creation row even within the same second, for FINAL readers.
    updated_at_s: Math.max(now, created + 1),
  });
  return { id, alreadyRevoked: false };
}

/**
 * Verifies presented API keys against audit.api_keys, caching lookups (found, unknown, revoked)
 * for `ttlMs` in a bounded map: a revoked key stops working within ttlMs.
 */
export interface ApiKeyVerifier {
  verify(token: string): Promise<Principal | undefined>;
}

export function createApiKeyVerifier(ch: ClickHouse, options: { ttlMs: number; maxEntries?: number; now?: () => number }): ApiKeyVerifier {
  const cache = new Map<string, { key: StoredApiKey | undefined; expires: number }>();
  const max = options.maxEntries ?? 10_000;
  const now = options.now ?? Date.now;
  async function lookup(id: string): Promise<StoredApiKey | undefined> {
    const t = now();
    const hit = cache.get(id);
    if (hit && hit.expires > t) return hit.key;
    const key = await findApiKey(ch, id);
    if (options.ttlMs > 0) {
      cache.delete(id);
      cache.set(id, { key, expires: t + options.ttlMs });
      while (cache.size > max) cache.delete(cache.keys().next().value as string);
    }
    return key;
  }
  return {
    async verify(token) {
      const parsed = parseApiKey(token);
      if (!parsed) return undefined;
      const key = await lookup(parsed.id);
      // Hash the secret even for unknown ids, so timing says nothing about which ids exist.
      const ok = secretMatches(parsed.secret, key?.hash ?? '');
      if (!key || !ok || key.revoked_at !== null || !isRole(key.role)) return undefined;
      const tenants = key.tenants.includes('*') ? '*' : key.tenants;
      return { kind: 'api_key', id: key.id, role: key.role, tenants, pii: key.permissions.includes('pii') };
    },
  };
}
