import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import type { StoredEvent } from '@auditstream/clickhouse';
import { dataKey, encryptEventFields, type ResolvedKey, type SubjectKeyStore } from '@auditstream/crypto';
import { createLogger } from '@auditstream/observability';
import { createFieldRevealer } from './reveal.js';
import type { Principal } from './scope.js';

const live = dataKey('kLive', randomBytes(32));
const gone = dataKey('kGone', randomBytes(32));
const logger = createLogger({ service: 'test', level: 'silent' });

function stored(eventId: string, actor: string, key = live): StoredEvent {
  const event = {
    event_id: eventId,
    tenant_id: 'acme',
    actor: { id: actor, type: 'user', name: 'Alice', ip: '198.51.100.4' },
    attributes: { email: 'alice@example.com', plan: 'pro' },
  };
  encryptEventFields(event, ['actor.name', 'actor.ip', 'attributes.email'], key);
  return { event, meta: {} } as unknown as StoredEvent;
}

const store: SubjectKeyStore & { asked: string[][] } = {
  asked: [],
  async keysFor() {
    throw new Error('readers never create keys');
  },
  async resolve(ids) {
    store.asked.push([...ids]);
    const m = new Map<string, ResolvedKey>();
    for (const id of ids) m.set(id, id === live.keyId ? { status: 'live', key: live, tenant: 'acme', subject: 'alice' } : { status: 'erased' });
    return m;
  },
  clear() {},
};

const auditor: Principal = { kind: 'api_key', id: 'a', role: 'auditor', tenants: ['acme'] };
const piiAuditor: Principal = { ...auditor, pii: true };

test('PII permission → clear values; without → mask; erased subject → erased marker for both', async () => {
  const r = createFieldRevealer({ store, mask: '***', erased: '[erased]', logger });
  const a = [stored('e1', 'alice'), stored('e2', 'bob', gone)];
  await r.reveal(a, piiAuditor);
  const e1 = a[0]?.event as unknown as { actor: { name: string; ip: string }; attributes: Record<string, string> };
  assert.equal(e1.actor.name, 'Alice');
  assert.equal(e1.actor.ip, '198.51.100.4');
  assert.equal(e1.attributes.email, 'alice@example.com');
  const e2 = a[1]?.event as unknown as { actor: { name: string }; attributes: Record<string, string> };
  assert.equal(e2.actor.name, '[erased]');
  assert.equal(e2.attributes.plan, 'pro');
  assert.deepEqual(store.asked.at(-1)?.sort(), ['kGone', 'kLive'], 'one lookup for the whole page');

  const b = [stored('e1', 'alice'), stored('e2', 'bob', gone)];
  await r.reveal(b, auditor);
  assert.equal((b[0]?.event as unknown as { actor: { name: string } }).actor.name, '***');
  assert.equal((b[1]?.event as unknown as { actor: { name: string } }).actor.name, '[erased]');
  // Service keys never see clear values, even with the flag.
  const c = [stored('e1', 'alice')];
  await r.reveal(c, { ...piiAuditor, role: 'service' });
  assert.equal((c[0]?.event as unknown as { actor: { name: string } }).actor.name, '***');
});

test('without a key store (no master key) every encrypted value is masked, even for PII principals; envelopes never leave', async () => {
  const r = createFieldRevealer({ mask: '***', erased: '[erased]', logger });
  const a = [stored('e1', 'alice')];
  await r.reveal(a, piiAuditor);
  assert.ok(!JSON.stringify(a).includes('enc:v1:'));
  assert.equal((a[0]?.event as unknown as { actor: { ip: string } }).actor.ip, '***');
  assert.equal(r.maskValue('enc:v1:k:AAAA'), '***');
  assert.equal(r.maskValue('10.0.0.1'), '10.0.0.1');
});

const paths = (m: { path: string; reason: string }[] | undefined) => (m ?? []).map((f) => `${f.path}:${f.reason}`).sort();

test('reveal answers, per event, the paths not shown in clear and why; none for clear values or unencrypted events', async () => {
  const r = createFieldRevealer({ store, mask: '***', erased: '[erased]', logger });
  const plain = {
    event: { event_id: 'e3', tenant_id: 'acme', actor: { id: 'carol', type: 'user', ip: '10.0.0.1' }, attributes: {} },
    meta: {},
  } as unknown as StoredEvent;
  const clear = await r.reveal([stored('e1', 'alice'), stored('e2', 'bob', gone), plain], piiAuditor);
  assert.deepEqual(paths(clear[0]), []);
  assert.deepEqual(paths(clear[1]), ['actor.ip:erased', 'actor.name:erased', 'attributes.email:erased']);
  assert.deepEqual(paths(clear[2]), []);
  const hidden = await r.reveal([stored('e1', 'alice'), plain], auditor);
  assert.deepEqual(paths(hidden[0]), ['actor.ip:no_pii_permission', 'actor.name:no_pii_permission', 'attributes.email:no_pii_permission']);
  assert.deepEqual(paths(hidden[1]), []);
  assert.deepEqual(await r.reveal([plain], auditor), [[]], 'a page without envelopes: one empty list per event');
  const noKey = await createFieldRevealer({ mask: '***', erased: '[erased]', logger }).reveal([stored('e1', 'alice')], piiAuditor);
  assert.deepEqual(paths(noKey[0]), ['actor.ip:no_master_key', 'actor.name:no_master_key', 'attributes.email:no_master_key']);
  // A moved value (copied into another row) reads as unreadable.
  const moved = stored('e1', 'alice');
  (moved.event as unknown as { event_id: string }).event_id = 'e9';
  assert.deepEqual(paths((await r.reveal([moved], piiAuditor))[0]), ['actor.ip:unreadable', 'actor.name:unreadable', 'attributes.email:unreadable']);
});

test('a key store outage is a 503 problem, not a 500 or a ciphertext', async () => {
  const r = createFieldRevealer({
    store: { ...store, resolve: async () => Promise.reject(new Error('ClickHouse down')) },
    mask: '***',
    erased: '[erased]',
    logger,
  });
  await assert.rejects(
    r.reveal([stored('e1', 'alice')], piiAuditor),
    (err: { status?: number; kind?: string }) => err.status === 503 && err.kind === 'unavailable',
  );
});
