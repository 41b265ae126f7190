import { randomBytes } from 'node:crypto';
import { type ClickHouse, sql, table } from '@auditstream/clickhouse';
import { AuditstreamError } from '@auditstream/core';
import { type DataKey, dataKey } from './envelope.js';
import type { KeyWrapper } from './key-wrapper.js';

/**
 * Subject keys (docs/field-encryption.md): one data key per (tenant, subject), generated on first
 * sight and stored only wrapped by the master key, in `<db>.subject_keys`. Erasure deletes the
 * subject's rows there and records a tombstone in `<db>.subject_erasures`; a key created at or
 * before the latest tombstone of its subject counts as erased even if a copy of it survived.
 *
 * Concurrent ingest instances may each create a key for a new subject. Every key is stored before
 * any row encrypted with it, and the key id travels in the ciphertext, so every generation stays
 * readable until erased; writers converge on the earliest live key (created_at_ms, then key_id)
 * by re-reading after creating.
 */
export interface SubjectRef {
  tenant: string;
  subject: string;
}

export interface StoredSubjectKey {
  tenant_id: string;
  subject_id: string;
  key_id: string;
  wrapped_key: string;
  master_key_id: string;
  created_at_ms: number;
}

export type ResolvedKey = { status: 'live'; key: DataKey; tenant: string; subject: string } | { status: 'erased' };

export interface SubjectKeyStore {
  /** Writers (ingest): the live key of each subject, created when it has none. Keyed by subjectKey(). */
  keysFor(subjects: readonly SubjectRef[]): Promise<Map<string, DataKey>>;
  /** Readers (API): what each key id resolves to; a key that no longer exists is erased. */
  resolve(keyIds: readonly string[]): Promise<Map<string, ResolvedKey>>;
  /** Drops cached keys (tests, and after an erasure in the same process). */
  clear(): void;
}

export interface SubjectKeyStoreOptions {
  ch: ClickHouse;
  wrapper: KeyWrapper;
  /** How long a key (or an erased answer) is cached: bounds how long a destroyed key stays in memory. */
  cacheTtlMs: number;
  cacheMaxEntries: number;
  now?: () => number;
  /** Read-only stores never create keys (the API). */
  readOnly?: boolean;
}

export const subjectKey = (tenant: string, subject: string) => `${tenant}\u0000${subject}`;

/** A bounded map with a TTL per entry, evicting the least recently inserted beyond maxEntries. */
function ttlCache<V>(ttlMs: number, max: number, now: () => number) {
  const m = new Map<string, { v: V; exp: number }>();
  return {
    get(k: string): V | undefined {
      const e = m.get(k);
      if (!e) return undefined;
      if (e.exp <= now()) {
        m.delete(k);
        return undefined;
      }
      return e.v;
    },
    set(k: string, v: V) {
      if (ttlMs <= 0) return;
      m.delete(k);
      m.set(k, { v, exp: now() + ttlMs });
      while (m.size > max) m.delete(m.keys().next().value as string);
    },
    clear: () => m.clear(),
  };
}

export async function loadErasures(ch: ClickHouse, tenants: readonly string[], subjects: readonly string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (tenants.length === 0 || subjects.length === 0) return out;
  const rows = await ch.queryRows<{ tenant_id: string; subject_id: string; erased: string }>(
    sql`SELECT tenant_id, subject_id, toString(max(erased_at_ms)) AS erased FROM ${table(ch.database, 'subject_erasures')}
        WHERE has(${[...new Set(tenants)]}, tenant_id) AND has(${[...new Set(subjects)]}, subject_id) GROUP BY tenant_id, subject_id`,
    { operation: 'subject_erasures_read' },
  );
  for (const r of rows) out.set(subjectKey(r.tenant_id, r.subject_id), Number(r.erased));
  return out;
}

const KEY_COLUMNS = sql`tenant_id, subject_id, key_id, wrapped_key, master_key_id, created_at_ms`;

async function keysOfSubjects(ch: ClickHouse, refs: readonly SubjectRef[]): Promise<StoredSubjectKey[]> {
  if (refs.length === 0) return [];
  const rows = await ch.queryRows<StoredSubjectKey>(
    sql`SELECT ${KEY_COLUMNS} FROM ${table(ch.database, 'subject_keys')}
        WHERE has(${[...new Set(refs.map((r) => r.tenant))]}, tenant_id) AND has(${[...new Set(refs.map((r) => r.subject))]}, subject_id)`,
    { operation: 'subject_keys_read' },
  );
  return rows.map((r) => ({ ...r, created_at_ms: Number(r.created_at_ms) }));
}

/** The key writers use: the earliest key created after the subject's latest erasure. */
export function liveKey(keys: readonly StoredSubjectKey[], erasedAtMs: number | undefined): StoredSubjectKey | undefined {
  let best: StoredSubjectKey | undefined;
  for (const k of keys) {
    if (erasedAtMs !== undefined && k.created_at_ms <= erasedAtMs) continue;
    if (!best || k.created_at_ms < best.created_at_ms || (k.created_at_ms === best.created_at_ms && k.key_id < best.key_id)) best = k;
  }
  return best;
}

export function createSubjectKeyStore(o: SubjectKeyStoreOptions): SubjectKeyStore {
  const now = o.now ?? Date.now;
  const writerCache = ttlCache<DataKey>(o.cacheTtlMs, o.cacheMaxEntries, now);
  const readerCache = ttlCache<ResolvedKey>(o.cacheTtlMs, o.cacheMaxEntries, now);

  async function unwrap(k: StoredSubjectKey): Promise<DataKey> {
    const dek = await o.wrapper.unwrap(k.wrapped_key, { tenant: k.tenant_id, subject: k.subject_id, keyId: k.key_id });
    try {
      return dataKey(k.key_id, dek);
    } finally {
      dek.fill(0);
    }
  }

  async function pick(refs: readonly SubjectRef[]): Promise<{ found: Map<string, StoredSubjectKey>; erasures: Map<string, number> }> {
    const [keys, erasures] = await Promise.all([
      keysOfSubjects(o.ch, refs),
      loadErasures(
        o.ch,
        refs.map((r) => r.tenant),
        refs.map((r) => r.subject),
      ),
    ]);
    const bySubject = new Map<string, StoredSubjectKey[]>();
    for (const k of keys) {
      const sk = subjectKey(k.tenant_id, k.subject_id);
      const list = bySubject.get(sk) ?? [];
      list.push(k);
      bySubject.set(sk, list);
    }
    const out = new Map<string, StoredSubjectKey>();
    for (const r of refs) {
      const sk = subjectKey(r.tenant, r.subject);
      const live = liveKey(bySubject.get(sk) ?? [], erasures.get(sk));
      if (live) out.set(sk, live);
    }
    return { found: out, erasures };
  }

  return {
    clear() {
      writerCache.clear();
      readerCache.clear();
    },
    async keysFor(subjects) {
      if (o.readOnly) throw new AuditstreamError('CRYPTO_READ_ONLY', 'this subject key store may not create keys');
      const out = new Map<string, DataKey>();
      const missing = new Map<string, SubjectRef>();
      for (const s of subjects) {
        const sk = subjectKey(s.tenant, s.subject);
        const hit = writerCache.get(sk);
        if (hit) out.set(sk, hit);
        else missing.set(sk, s);
      }
      if (missing.size === 0) return out;
      const refs = [...missing.values()];
      let { found, erasures } = await pick(refs);
      const toCreate = refs.filter((r) => !found.has(subjectKey(r.tenant, r.subject)));
      if (toCreate.length > 0) {
        const rows: StoredSubjectKey[] = [];
        for (const r of toCreate) {
          const keyId = randomBytes(12).toString('base64url');
          const dek = randomBytes(32);
          const wrapped = await o.wrapper.wrap(dek, { tenant: r.tenant, subject: r.subject, keyId });
          dek.fill(0);
          // Always after the subject's latest erasure, whatever this host's clock says.
          const erased = erasures.get(subjectKey(r.tenant, r.subject));
          const created = Math.max(now(), erased === undefined ? 0 : erased + 1);
          rows.push({
            tenant_id: r.tenant,
            subject_id: r.subject,
            key_id: keyId,
            wrapped_key: wrapped,
            master_key_id: o.wrapper.keyId,
            created_at_ms: created,
          });
        }
        // Stored before any row encrypted with them: a ciphertext whose key is missing means erased.
        await o.ch.insertJson(
          'subject_keys',
          rows.map((r) => ({ ...r, created_at: Math.floor(r.created_at_ms / 1000) })),
          { operation: 'subject_keys_create' },
        );
        // Another instance may have created one at the same time: converge on the earliest.
        ({ found, erasures } = await pick(refs));
      }
      for (const r of refs) {
        const sk = subjectKey(r.tenant, r.subject);
        const stored = found.get(sk);
        if (!stored)
          throw new AuditstreamError('CRYPTO_KEY_MISSING', 'a subject key was created but cannot be read back (erased meanwhile?); retrying', {
            retriable: true,
            field: 'subject_keys',
          });
        const key = await unwrap(stored);
        writerCache.set(sk, key);
        out.set(sk, key);
      }
      return out;
    },
    async resolve(keyIds) {
      const out = new Map<string, ResolvedKey>();
      const missing: string[] = [];
      for (const id of new Set(keyIds)) {
        const hit = readerCache.get(id);
        if (hit) out.set(id, hit);
        else missing.push(id);
      }
      if (missing.length === 0) return out;
      const rows = (
        await o.ch.queryRows<StoredSubjectKey>(sql`SELECT ${KEY_COLUMNS} FROM ${table(o.ch.database, 'subject_keys')} WHERE has(${missing}, key_id)`, {
          operation: 'subject_keys_resolve',
        })
      ).map((r) => ({ ...r, created_at_ms: Number(r.created_at_ms) }));
      const erasures = await loadErasures(
        o.ch,
        rows.map((r) => r.tenant_id),
        rows.map((r) => r.subject_id),
      );
      const byId = new Map(rows.map((r) => [r.key_id, r]));
      for (const id of missing) {
        const r = byId.get(id);
        const erasedAt = r ? erasures.get(subjectKey(r.tenant_id, r.subject_id)) : undefined;
        let resolved: ResolvedKey;
        if (!r || (erasedAt !== undefined && r.created_at_ms <= erasedAt)) resolved = { status: 'erased' };
        else resolved = { status: 'live', key: await unwrap(r), tenant: r.tenant_id, subject: r.subject_id };
        readerCache.set(id, resolved);
        out.set(id, resolved);
      }
      return out;
    },
  };
}
