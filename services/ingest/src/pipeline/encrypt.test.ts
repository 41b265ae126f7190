import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import type { ClickHouse } from '@auditstream/clickhouse';
import { AuditstreamError } from '@auditstream/core';
import { type DataKey, dataKey, type SubjectKeyStore } from '@auditstream/crypto';
import { createLogger, createMetricsRegistry } from '@auditstream/observability';
import { createIngest } from '../app.js';
import { loadIngestConfig } from '../config.js';
import { createIngestMetrics } from '../metrics.js';
import type { IngestRecord } from '../types.js';
import { createEncryptStage, encryptionFromConfig } from './encrypt.js';

const keyA = dataKey('kA', randomBytes(32));
const keyB = dataKey('kB', randomBytes(32));

function fakeStore(failures = 0): SubjectKeyStore & { calls: number } {
  let left = failures;
  const store = {
    calls: 0,
    async keysFor(subjects: readonly { tenant: string; subject: string }[]) {
      store.calls++;
      if (left-- > 0) throw new AuditstreamError('CLICKHOUSE_UNAVAILABLE', 'down', { retriable: true });
      return new Map<string, DataKey>(subjects.map((s) => [`${s.tenant}\u0000${s.subject}`, s.subject === 'alice' ? keyA : keyB]));
    },
    async resolve() {
      return new Map();
    },
    clear() {},
  };
  return store;
}

function record(eventId: string, actorId: string): IngestRecord {
  return {
    event: {
      event_id: eventId,
      tenant_id: 'acme',
      occurred_at: 1_700_000_000_000_000,
      actor: { id: actorId, type: 'user', name: `${actorId} Smith`, ip: '192.0.2.10', user_agent: null, session_id: null },
      action: 'login',
      category: 'authentication',
      outcome: 'success',
      service: 'sso',
      attributes: { email: `${actorId}@example.com`, plan: 'pro' },
    } as never,
    enrichment: { geo_country: '', geo_city: '', ua_browser: '', ua_os: '', ua_device: '' },
    source: { topic: 't', partition: 0, offset: '1', timestamp: '0', key: null, value: null, headers: {}, size: 1 },
    receivedAtMs: 0,
  };
}

function stage(store: SubjectKeyStore) {
  const metrics = createIngestMetrics(createMetricsRegistry({ service: 'test', defaultMetrics: false }));
  const run = createEncryptStage({
    encryption: { store, fields: ['actor.name', 'actor.ip', 'attributes.email'], subjectField: 'actor.id' },
    metrics,
    retry: { initial_delay_ms: 1, max_delay_ms: 2 },
    signal: new AbortController().signal,
  });
  return { run, metrics };
}

test('encrypts the configured fields under each subject key, in one key lookup per batch', async () => {
  const store = fakeStore();
  const { run, metrics } = stage(store);
  const a = record('e1', 'alice');
  const b = record('e2', 'bob');
  await run([a, b]);
  assert.equal(store.calls, 1);
  const ev = a.event as unknown as { actor: { id: string; name: string; ip: string }; attributes: Record<string, string> };
  assert.match(ev.actor.name, /^enc:v1:kA:/);
  assert.match(ev.actor.ip, /^enc:v1:kA:/);
  assert.match(ev.attributes.email as string, /^enc:v1:kA:/);
  assert.equal(ev.actor.id, 'alice', 'the subject stays clear');
  assert.equal(ev.attributes.plan, 'pro');
  assert.match((b.event as unknown as { actor: { name: string } }).actor.name, /^enc:v1:kB:/);
  assert.equal((await metrics.encryptedFields.get()).values[0]?.value, 6);
});

test('re-delivery: the same event encrypted again (another process, same key) gives identical bytes; a second pass changes nothing', async () => {
  const first = record('e1', 'alice');
  const again = record('e1', 'alice');
  await stage(fakeStore()).run([first]);
  const s = stage(fakeStore());
  await s.run([again]);
  assert.deepEqual(again.event, first.event);
  const before = JSON.stringify(again.event);
  await s.run([again]);
  assert.equal(JSON.stringify(again.event), before);
});

test('events with nothing to encrypt ask for no key (no key is created for their subject)', async () => {
  const store = fakeStore();
  const r = record('e3', 'svc');
  const ev = r.event as unknown as { actor: { name: string | null; ip: string | null }; attributes: Record<string, string> };
  ev.actor.name = null;
  ev.actor.ip = null;
  ev.attributes = { plan: 'pro' };
  await stage(store).run([r]);
  assert.equal(store.calls, 0);
});

test('a transient key-store failure is retried; nothing is encrypted until the keys are there', async () => {
  const store = fakeStore(2);
  const r = record('e1', 'alice');
  await stage(store).run([r]);
  assert.equal(store.calls, 3);
  assert.match((r.event as unknown as { actor: { name: string } }).actor.name, /^enc:v1:kA:/);
});

test('encryption.enabled without a master key: refused at start, naming encryption.master_key_file', () => {
  const cfg = loadIngestConfig({ env: { AUDITSTREAM_INTEGRITY__ENABLED: 'false', AUDITSTREAM_ENCRYPTION__ENABLED: 'true' } });
  const named = (err: AuditstreamError) => err.code === 'ENCRYPTION_KEY_MISSING' && /encryption\.master_key_file/.test(err.message);
  assert.throws(() => encryptionFromConfig(cfg.encryption, {} as ClickHouse), named);
  assert.throws(
    () =>
      createIngest({
        config: cfg,
        logger: createLogger({ service: 'test', level: 'silent' }),
        registry: createMetricsRegistry({ service: 'test', defaultMetrics: false }),
        storage: { prepare: async () => Promise.reject(new Error('unused')), ping: async () => false, close: async () => {} },
        decoder: { decodeSync: () => Promise.reject(new Error('unused')) as never, decode: async () => Promise.reject(new Error('unused')) as never },
        validate: () => {},
        observability: false,
        ensureTopics: false,
      }),
    named,
  );
  const bad = loadIngestConfig({
    env: { AUDITSTREAM_ENCRYPTION__ENABLED: 'true', AUDITSTREAM_ENCRYPTION__MASTER_KEY: 'not-a-key-at-all' },
  });
  assert.throws(
    () => encryptionFromConfig(bad.encryption, {} as ClickHouse),
    (err: AuditstreamError) => err.code === 'CRYPTO_KEY_INVALID' && err.field === 'encryption.master_key' && !err.message.includes('not-a-key'),
  );
  const ok = loadIngestConfig({ env: { AUDITSTREAM_ENCRYPTION__ENABLED: 'true', AUDITSTREAM_ENCRYPTION__MASTER_KEY: randomBytes(32).toString('hex') } });
  assert.deepEqual(encryptionFromConfig(ok.encryption, {} as ClickHouse)?.fields, ['actor.name', 'actor.ip', 'attributes.email']);
  assert.equal(encryptionFromConfig(loadIngestConfig({ env: {} }).encryption, {} as ClickHouse), undefined, 'off by default');
});

test('a bad field path in encryption.fields is a config error naming the key', () => {
  assert.throws(
    () => loadIngestConfig({ env: { AUDITSTREAM_ENCRYPTION__FIELDS: 'actor.name,actor.id' } }),
    (err: Error) => /encryption\.fields/.test(err.message),
  );
});
