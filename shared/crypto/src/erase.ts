import {
  type AuditEventInput,
  activeLegalHolds,
  alterRows,
  type ClickHouse,
  eachServer,
  type LegalHold,
  p,
  type SqlFragment,
  sql,
  table,
} from '@auditstream/clickhouse';
import { AuditstreamError, sleep, uuidv7 } from '@auditstream/core';

/**
 * Erasure by crypto-shredding (docs/field-encryption.md). For one subject (in one tenant, or in
 * every tenant it has keys in):
 * 1. refuses, naming the tenant, when a legal hold covers any affected tenant (or all tenants);
 * 2. records a tombstone per tenant (subject_erasures): from then on every key of the subject
 *    created at or before it counts as erased, also for a copy that survives step 3;
 * 3. deletes every wrapped key of the subject (ALTER TABLE … DELETE, a mutation; on a cluster on
 *    the local replicated table ON CLUSTER) and waits until system.mutations says it is done (on
 *    a cluster: on every server), then checks that none is left (again if one slipped in);
 * 4. records the erasure as an audit event through the SDK (acknowledged before it returns).
 * Event rows are not touched: the hash chain and `auditstream verify` are unaffected. Processes
 * that cached an unwrapped key may keep it for up to encryption.key_cache_ttl_ms.
 */
export interface EraseOptions {
  ch: ClickHouse;
  subject: string;
  /** Only this tenant; default every tenant the subject has keys in. */
  tenant?: string | undefined;
  reason: string;
  /** The SDK's publish (acknowledged by Kafka). */
  recordEvent: (event: AuditEventInput) => Promise<void>;
  /** Who runs the erasure (the audit event's actor). */
  actorId: string;
  /** Tenant of the audit event when the subject has no key anywhere (nothing to erase). */
  systemTenant?: string;
  /** How long to wait for the delete mutation (default 120 s). */
  mutationTimeoutMs?: number;
  /** What the erase output says about caches. */
  keyCacheTtlMs: number;
  now?: () => number;
}

export interface EraseResult {
  subject: string;
  tenants: string[];
  keyIds: string[];
  erasedAtMs: number;
  erasureIds: string[];
  message: string;
}

const MAX_ID = 256;

function checkId(value: string | undefined, field: string): void {
  if (value === undefined) return;
  if (value.length === 0 || value.length > MAX_ID || /[\u0000-\u001f\u007f]/.test(value))
    throw new AuditstreamError('USAGE', `--${field} must be 1..${MAX_ID} printable characters`, { field });
}

/** The first active hold that covers one of the tenants, or undefined. */
export function blockingHold(holds: readonly LegalHold[], tenants: readonly string[]): { hold: LegalHold; tenant: string } | undefined {
  for (const h of holds) {
    if (h.tenant_id === '*') return { hold: h, tenant: tenants[0] ?? '*' };
    if (tenants.includes(h.tenant_id)) return { hold: h, tenant: h.tenant_id };
  }
  return undefined;
}

export async function eraseSubject(o: EraseOptions): Promise<EraseResult> {
  checkId(o.subject, 'subject');
  checkId(o.tenant, 'tenant');
  if (!o.reason || o.reason.length > 1000) throw new AuditstreamError('USAGE', '--reason must be 1..1000 characters', { field: 'reason' });
  const now = o.now ?? Date.now;
  const keys = table(o.ch.database, 'subject_keys');
  const tenantFilter = o.tenant !== undefined ? sql` AND tenant_id = ${o.tenant}` : sql``;

  const found = await o.ch.queryRows<{ tenant_id: string; key_id: string }>(
    sql`SELECT DISTINCT tenant_id, key_id FROM ${keys} WHERE subject_id = ${o.subject}${tenantFilter} ORDER BY tenant_id, key_id`,
    { operation: 'erase_find_keys' },
  );
  const tenants = o.tenant !== undefined ? [o.tenant] : [...new Set(found.map((r) => r.tenant_id))];

  const event = (tenant: string, outcome: 'success' | 'denied', attrs: Record<string, string>): AuditEventInput => ({
    event_id: uuidv7(),
    tenant_id: tenant,
    occurred_at: now() * 1000,
    actor: { id: o.actorId, type: 'system' },
    action: 'subject.erase',
    category: 'admin',
    outcome,
    reason: outcome === 'denied' ? 'legal_hold' : null,
    service: 'auditstream-cli',
    severity: 'high',
    resource: { type: 'data_subject', id: o.subject },
    attributes: { erase_reason: o.reason.slice(0, 256), ...attrs },
  });

  const hold = blockingHold(await activeLegalHolds(o.ch), tenants);
  if (hold) {
    await o.recordEvent(event(hold.tenant, 'denied', { legal_hold: hold.hold.hold_id }));
    throw new AuditstreamError(
      'LEGAL_HOLD',
      `tenant ${hold.tenant} is under legal hold ${hold.hold.hold_id}${hold.hold.tenant_id === '*' ? ' (all tenants)' : ''}: erasure is blocked until the hold is released (auditstream retention release)`,
      { field: 'tenant' },
    );
  }

  const erasedAtMs = now();
  const keyIds = found.map((r) => r.key_id);
  const erasureIds: string[] = [];
  if (tenants.length > 0) {
    const rows = tenants.map((t) => {
      const id = uuidv7();
      erasureIds.push(id);
      return {
        tenant_id: t,
        subject_id: o.subject,
        erasure_id: id,
        erased_at_ms: erasedAtMs,
        reason: o.reason,
        key_ids: found.filter((r) => r.tenant_id === t).map((r) => r.key_id),
        created_at: Math.floor(erasedAtMs / 1000),
      };
    });
    // The tombstone first: readers treat the keys as erased from now on, even before the delete lands.
    await o.ch.insertJson('subject_erasures', rows, { operation: 'erase_tombstone' });
    const where = sql`subject_id = ${o.subject} AND has(${tenants}, tenant_id) AND created_at_ms <= ${p.uint64(erasedAtMs)}`;
    for (let round = 0; ; round++) {
      const left = await o.ch.queryRows<{ n: string }>(sql`SELECT toString(count()) AS n FROM ${keys} WHERE ${where}`, { operation: 'erase_check' });
      if (Number(left[0]?.n ?? 0) === 0) break;
      if (round >= 3)
        throw new AuditstreamError('ERASE_INCOMPLETE', 'subject keys are still present after 3 delete rounds; run erase again', { retriable: true });
      await deleteKeys(o.ch, where, o.mutationTimeoutMs ?? 120_000, 'erase_delete');
    }
  }

  const attrs = {
    keys_destroyed: String(keyIds.length),
    key_ids: keyIds.join(',').slice(0, 1000),
    key_cache_ttl_ms: String(o.keyCacheTtlMs),
  };
  for (const [i, t] of (tenants.length > 0 ? tenants : [o.systemTenant ?? 'system']).entries())
    await o.recordEvent(event(t, 'success', { ...attrs, ...(erasureIds[i] ? { erasure_id: erasureIds[i] } : {}) }));

  const message =
    keyIds.length === 0
      ? `No data key of subject ${o.subject}${o.tenant !== undefined ? ` in tenant ${o.tenant}` : ''}: nothing was encrypted for it${tenants.length > 0 ? ' (a tombstone was recorded)' : ''}.`
      : `Destroyed ${keyIds.length} data key(s) of subject ${o.subject} in ${tenants.join(', ')}: its encrypted fields are unreadable everywhere. ` +
        `Processes that cached a key may still use it for up to ${o.keyCacheTtlMs} ms (encryption.key_cache_ttl_ms). ` +
        'New events of this subject get a new key (a new generation), which a later erase destroys too.';
  return { subject: o.subject, tenants, keyIds, erasedAtMs, erasureIds, message };
}

/**
 * Deletes the subject_keys rows `where` selects and waits until the delete is done everywhere. On a
 * cluster the mutation runs on each shard's local table (ON CLUSTER) and is waited for on every
 * server: the ALTER returns once it is queued, one replica per shard.
 */
export async function deleteKeys(ch: ClickHouse, where: SqlFragment, timeoutMs: number, operation: string): Promise<void> {
  const before = ch.cluster ? await mutationIdsPerServer(ch) : undefined;
  await alterRows(ch, sql`ALTER TABLE ${table(ch.database, 'subject_keys')} DELETE WHERE ${where}`, { operation });
  if (before) await waitForClusterMutation(ch, before, timeoutMs);
  else await waitForMutations(ch, timeoutMs);
}

async function mutationIdsPerServer(ch: ClickHouse): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>();
  for (const s of await eachServer(ch, 'mutations')) {
    const rows = await ch.queryRows<{ mutation_id: string }>(sql`SELECT mutation_id FROM ${s.from} WHERE database = ${s.database} AND table = 'subject_keys'`, {
      operation: 'erase_wait',
    });
    out.set(s.server, new Set(rows.map((r) => r.mutation_id)));
  }
  return out;
}

/**
 * Done when every server lists a mutation of subject_keys it did not have before the ALTER (each
 * replica loads it from ZooKeeper on its own) and has none left to do.
 */
async function waitForClusterMutation(ch: ClickHouse, before: Map<string, Set<string>>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pending: string[] = [];
    for (const s of await eachServer(ch, 'mutations')) {
      const rows = await ch.queryRows<{ mutation_id: string; is_done: number | string }>(
        sql`SELECT mutation_id, is_done FROM ${s.from} WHERE database = ${s.database} AND table = 'subject_keys'`,
        { operation: 'erase_wait' },
      );
      const seen = rows.some((r) => !before.get(s.server)?.has(r.mutation_id));
      if (!seen || rows.some((r) => Number(r.is_done) === 0)) pending.push(s.server);
    }
    if (pending.length === 0) return;
    if (Date.now() > deadline)
      throw new AuditstreamError(
        'ERASE_TIMEOUT',
        `the delete mutation on subject_keys did not finish on ${pending.join(', ')} within ${timeoutMs} ms (see system.mutations there); run erase again`,
        { retriable: true },
      );
    await sleep(200);
  }
}

/** Waits until every mutation of subject_keys is done (18.16 has no mutations_sync). */
export async function waitForMutations(ch: ClickHouse, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await ch
      .queryRows<{ pending: string; failed: string }>(
        sql`SELECT toString(countIf(is_done = 0)) AS pending, toString(countIf(is_done = 0 AND latest_fail_reason != '')) AS failed
          FROM system.mutations WHERE database = ${ch.database} AND table = 'subject_keys'`,
        { operation: 'erase_wait' },
      )
      .catch(async () =>
        // Servers without latest_fail_reason (18.16): pending only.
        ch.queryRows<{ pending: string; failed: string }>(
          sql`SELECT toString(countIf(is_done = 0)) AS pending, '0' AS failed FROM system.mutations WHERE database = ${ch.database} AND table = 'subject_keys'`,
          { operation: 'erase_wait' },
        ),
      );
    if (Number(rows[0]?.pending ?? 0) === 0) return;
    if (Number(rows[0]?.failed ?? 0) > 0) throw new AuditstreamError('ERASE_FAILED', 'the delete mutation on subject_keys is failing (see system.mutations)');
    if (Date.now() > deadline)
      throw new AuditstreamError('ERASE_TIMEOUT', `the delete mutation on subject_keys did not finish within ${timeoutMs} ms; run erase again`, {
        retriable: true,
      });
    await sleep(200);
  }
}
