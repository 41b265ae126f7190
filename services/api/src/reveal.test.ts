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
