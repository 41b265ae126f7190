import { type ClickHouse, p, sql, table } from '@auditstream/clickhouse';
import { deleteKeys } from './erase.js';
import type { KeyWrapper } from './key-wrapper.js';
import { loadErasures, type StoredSubjectKey, subjectKey } from './store.js';

/**
 * Master key rotation: every data key still wrapped by another master key is unwrapped (the
 * wrapper must hold the old keys too: encryption.previous_master_key_files) and wrapped again by
 * the current one; the new row has the same key id and creation time, then the old rows are
 * deleted. Event rows never change. A subject erased while this ran does not get its key back:
 * its re-wrapped rows are deleted as well.
 */
export async function rewrapSubjectKeys(o: {
  ch: ClickHouse;
  wrapper: KeyWrapper;
  mutationTimeoutMs?: number;
}): Promise<{ rewrapped: number; fromMasterKeys: string[] }> {
  const keys = table(o.ch.database, 'subject_keys');
  const rows = (
    await o.ch.queryRows<StoredSubjectKey>(
      sql`SELECT tenant_id, subject_id, key_id, wrapped_key, master_key_id, created_at_ms FROM ${keys} WHERE master_key_id != ${o.wrapper.keyId}`,
      { operation: 'rewrap_read' },
    )
  ).map((r) => ({ ...r, created_at_ms: Number(r.created_at_ms) }));
  if (rows.length === 0) return { rewrapped: 0, fromMasterKeys: [] };
  const out: Record<string, unknown>[] = [];
  for (const r of rows) {
    const ctx = { tenant: r.tenant_id, subject: r.subject_id, keyId: r.key_id };
    const dek = await o.wrapper.unwrap(r.wrapped_key, ctx);
    const wrapped = await o.wrapper.wrap(dek, ctx);
    dek.fill(0);
    out.push({ ...r, wrapped_key: wrapped, master_key_id: o.wrapper.keyId, created_at: Math.floor(r.created_at_ms / 1000) });
  }
  await o.ch.insertJson('subject_keys', out, { operation: 'rewrap_write' });
  const timeoutMs = o.mutationTimeoutMs ?? 120_000;
  await deleteKeys(o.ch, sql`master_key_id != ${o.wrapper.keyId} AND has(${rows.map((r) => r.key_id)}, key_id)`, timeoutMs, 'rewrap_delete');
  const erasures = await loadErasures(
    o.ch,
    rows.map((r) => r.tenant_id),
    rows.map((r) => r.subject_id),
  );
  for (const r of rows) {
    const erased = erasures.get(subjectKey(r.tenant_id, r.subject_id));
    if (erased === undefined || r.created_at_ms > erased) continue;
    await deleteKeys(
      o.ch,
      sql`tenant_id = ${r.tenant_id} AND subject_id = ${r.subject_id} AND created_at_ms <= ${p.uint64(erased)}`,
      timeoutMs,
      'rewrap_delete',
    );
  }
  return { rewrapped: rows.length, fromMasterKeys: [...new Set(rows.map((r) => r.master_key_id))] };
}
