import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { apiDefaults, buildApi, createApiKey } from '@auditstream/api';
import { placeLegalHold } from '@auditstream/clickhouse';
import { sleep, uuidv7 } from '@auditstream/core';
import { createLocalKeyWrapper, createSubjectKeyStore, parseMasterKey } from '@auditstream/crypto';
import { createLogger, createMetricsRegistry } from '@auditstream/observability';
import { type AuditProducer, createAuditProducer } from '@auditstream/producer';
import { createTestEnv, type IngestChild, runCli, spawnIngest, type TestEnv, verifyTestEnv, waitFor } from '@auditstream/test';
import type { FastifyInstance } from 'fastify';

// Field encryption and erasure against the real stack (Kafka 4.1, ClickHouse 18.16) and the real
// `auditstream ingest` / `auditstream erase` processes: PII published through the SDK is stored
// encrypted (raw rows show no clear text), the API decrypts for a PII-permitted auditor and masks
// for one without, `erase` makes the subject's fields read "[erased]" through search, single event
// and export while raw rows stay byte-identical and `verify` stays clean, the erasure is an audit
// event, and a legal hold blocks erase with an error naming the tenant.

const CACHE_TTL_MS = 300;
const N = 20;
const NAME = 'Alice Liddell';
const IP = '203.0.113.77';
const EMAIL = 'alice.liddell@example.com';
let env: TestEnv;
let ingest: IngestChild | undefined;
let keyDir: string;
let masterKeyFile: string;
let producer: AuditProducer;
let app: FastifyInstance;
let piiKey: string;
let plainKey: string;
const ids: { alice: string[]; bob: string[] } = { alice: [], bob: [] };

/** The query API in-process on the test's database, recording its self-audit events through the SDK. */
function apiWith(fields: Parameters<typeof buildApi>[0]['fields']): FastifyInstance {
  return buildApi({
    config: apiDefaults({ rate_limit_burst: 1000, rate_limit_per_s: 1000 }),
    clickhouse: env.ch,
    logger: createLogger({ service: 'api-test', level: 'silent' }),
    metrics: createMetricsRegistry({ service: 'api-test', defaultMetrics: false }),
    recordEvent: async (e) => {
      await producer.publish(e as never);
    },
    fields,
  });
}

before(async () => {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
  keyDir = mkdtempSync(join(tmpdir(), 'field-enc-'));
  masterKeyFile = join(keyDir, 'master.key');
  writeFileSync(masterKeyFile, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  env = await createTestEnv({
    partitions: 2,
    extraEnv: {
      AUDITSTREAM_ENCRYPTION__ENABLED: 'true',
      AUDITSTREAM_ENCRYPTION__MASTER_KEY_FILE: masterKeyFile,
      AUDITSTREAM_ENCRYPTION__FIELDS: 'actor.name,actor.ip,attributes.email',
      AUDITSTREAM_ENCRYPTION__KEY_CACHE_TTL_MS: String(CACHE_TTL_MS),
      AUDITSTREAM_INTEGRITY__CHECKPOINT_EVERY_EVENTS: '5',
      AUDITSTREAM_INTEGRITY__CHECKPOINT_INTERVAL_MS: '500',
      AUDITSTREAM_INGEST__BATCH_MAX_AGE_MS: '100',
      // Redaction runs before encryption and would replace the e-mail address first.
      AUDITSTREAM_INGEST__REDACT_EMAILS: 'false',
    },
  });
  producer = createAuditProducer({ kafka: env.kafka, topic: env.topic, linger_ms: 5 });
  await producer.connect();
  const master = parseMasterKey(readFileSync(masterKeyFile, 'utf8'), 'test');
  app = apiWith({
    store: createSubjectKeyStore({
      ch: env.ch,
      wrapper: createLocalKeyWrapper({ keys: [master] }),
      cacheTtlMs: CACHE_TTL_MS,
      cacheMaxEntries: 1000,
      readOnly: true,
    }),
    mask: '***',
    erased: '[erased]',
  });
  piiKey = (await createApiKey(env.ch, { role: 'auditor', tenants: [env.tenant], pii: true })).key;
  plainKey = (await createApiKey(env.ch, { role: 'auditor', tenants: [env.tenant] })).key;
});

after(async () => {
  ingest?.proc.kill('SIGKILL');
  await app?.close();
  await producer?.close();
  await env?.cleanup();
  rmSync(keyDir, { recursive: true, force: true });
});

const range = () => `from=${new Date(Date.now() - 3_600_000).toISOString()}&to=${new Date(Date.now() + 3_600_000).toISOString()}`;

async function search(key: string): Promise<Record<string, { actor: { id: string; name: string; ip: string }; attributes: Record<string, string> }>> {
  const r = await app.inject({
    method: 'GET',
    url: `/v1/events?${range()}&tenant=${env.tenant}&action=user.login&limit=100`,
    headers: { authorization: `Bearer ${key}` },
  });
  assert.equal(r.statusCode, 200, r.body);
  const out: Record<string, never> = {};
  for (const e of (JSON.parse(r.body) as { data: { event_id: string }[] }).data) out[e.event_id] = e as never;
  return out;
}

async function exportAll(key: string): Promise<string> {
  const r = await app.inject({
    method: 'GET',
    url: `/v1/export?${range()}&tenant=${env.tenant}&action=user.login`,
    headers: { authorization: `Bearer ${key}` },
  });
  assert.equal(r.statusCode, 200, r.body);
  return r.body;
}

async function rawRows(): Promise<{ text: string; digest: string }> {
  const rows = await env.ch.queryRows<Record<string, unknown>>(
    `SELECT event_id, actor_id, actor_name, actor_ip, attr_keys, attr_values, hash, prev_hash FROM ${env.database}.events
     WHERE tenant_id = '${env.tenant}' AND action = 'user.login' ORDER BY event_id`,
  );
  const text = JSON.stringify(rows);
  return { text, digest: createHash('sha256').update(text).digest('hex') };
}

/** The CLI with the test's environment, through the kit's async runCli: the API's ClickHouse client keeps its keep-alive sockets served meanwhile. */
const cli = (args: string[], extra: Record<string, string> = {}) => runCli(args[0] as string, args, { ...env.env, ...extra }, 120_000);

test('encryption on without a master key: ingest exits 1 at start naming encryption.master_key_file; a bad key is named, never shown', async () => {
  const withoutKey = Object.fromEntries(Object.entries(env.env).filter(([k]) => k !== 'AUDITSTREAM_ENCRYPTION__MASTER_KEY_FILE'));
  for (const [extra, pattern] of [
    [{}, /ENCRYPTION_KEY_MISSING.*encryption\.master_key_file/],
    [{ AUDITSTREAM_ENCRYPTION__MASTER_KEY: 'short-secret-value' }, /CRYPTO_KEY_INVALID.*encryption\.master_key/],
  ] as const) {
    const child = spawnIngest({ ...withoutKey, ...extra });
    const timer = setTimeout(() => child.proc.kill('SIGKILL'), 60_000);
    const code = await child.exited;
    clearTimeout(timer);
    assert.equal(code, 1, child.output());
    assert.match(child.output(), pattern);
    assert.doesNotMatch(child.output(), /short-secret-value/, 'the key never reaches the log');
    assert.doesNotMatch(child.output(), /joined the consumer group/, 'nothing consumed');
  }
});

test('PII is stored encrypted; the API shows clear values only to a PII-permitted auditor', async () => {
  ingest = spawnIngest(env.env);
  for (let i = 0; i < N; i++) {
    const who = i % 2 === 0 ? 'alice' : 'bob';
    const event_id = uuidv7();
    ids[who].push(event_id);
    await producer.publish({
      event_id,
      tenant_id: env.tenant,
      actor: { id: who, type: 'user', name: who === 'alice' ? NAME : 'Bob Builder', ip: IP },
      action: 'user.login',
      category: 'authentication',
      outcome: 'success',
      service: 'sso',
      attributes: { email: who === 'alice' ? EMAIL : 'bob@example.com', plan: 'pro' },
    } as never);
  }
  await waitFor(
    `${N} events stored`,
    async () => (await rawRows()).text,
    (t) => (JSON.parse(t) as unknown[]).length >= N,
    60_000,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\ningest log tail:\n${ingest?.output().split('\n').slice(-12).join('\n')}`);
  });
  const raw = await rawRows();
  for (const clear of [NAME, 'Bob Builder', IP, EMAIL, 'bob@example.com']) assert.ok(!raw.text.includes(clear), `raw ClickHouse rows do not contain ${clear}`);
  assert.match(raw.text, /"actor_name":"enc:v1:[A-Za-z0-9_-]+:[A-Za-z0-9_-]+"/);
  assert.ok(raw.text.includes('"pro"'), 'fields not listed stay clear');
  const [keys] = await env.ch.queryRows<{ n: string }>(`SELECT count() AS n FROM ${env.database}.subject_keys WHERE tenant_id = '${env.tenant}'`);
  assert.equal(Number(keys?.n), 2, 'one data key per subject (alice, bob)');

  const clear = await search(piiKey);
  assert.equal(Object.keys(clear).length, N);
  const a = clear[ids.alice[0] as string];
  assert.equal(a?.actor.name, NAME);
  assert.equal(a?.actor.ip, IP);
  assert.equal(a?.attributes.email, EMAIL);
  assert.equal(a?.actor.id, 'alice');
  const masked = await search(plainKey);
  const m = masked[ids.alice[0] as string];
  assert.equal(m?.actor.name, '***');
  assert.equal(m?.actor.ip, '***');
  assert.equal(m?.attributes.email, '***');
  assert.equal(m?.attributes.plan, 'pro');
  assert.ok(!(await exportAll(plainKey)).includes('enc:v1:'), 'exports never carry envelopes');
  // Reads by the PII key are on record as such (self-audit events, stored by ingest).
  await waitFor(
    'a self-audit event marked pii_permission',
    async () => {
      const [row] = await env.ch.queryRows<{ n: string }>(
        `SELECT count() AS n FROM ${env.database}.events WHERE tenant_id = '${env.tenant}' AND action = 'audit.query' AND has(attr_keys, 'pii_permission')`,
      );
      return Number(row?.n ?? 0);
    },
    (n) => n >= 1,
    30_000,
  );
  assert.ok((await exportAll(piiKey)).includes(EMAIL));
});

test('erase: the subject reads [erased] everywhere, raw rows unchanged, verify clean, erasure on record; a legal hold blocks erase', async () => {
  const before = await rawRows();
  const r = await cli(['erase', '--subject', 'alice', '--tenant', env.tenant, '--reason', 'GDPR request 42']);
  assert.equal(r.code, 0, `erase succeeds (stderr: ${r.stderr})`);
  assert.match(r.stdout, /Destroyed 1 data key\(s\) of subject alice/);
  assert.match(r.stdout, new RegExp(`${CACHE_TTL_MS} ms \\(encryption\\.key_cache_ttl_ms\\)`), 'the output states the cache bound');
  assert.match(r.stderr, /recorded as audit event/);
  const [left] = await env.ch.queryRows<{ n: string }>(
    `SELECT count() AS n FROM ${env.database}.subject_keys WHERE tenant_id = '${env.tenant}' AND subject_id = 'alice'`,
  );
  assert.equal(Number(left?.n), 0, "the subject's wrapped key is gone from ClickHouse");

  await sleep(CACHE_TTL_MS + 100);
  for (const key of [piiKey, plainKey]) {
    const page = await search(key);
    for (const id of ids.alice) {
      const e = page[id];
      assert.equal(e?.actor.name, '[erased]');
      assert.equal(e?.actor.ip, '[erased]');
      assert.equal(e?.attributes.email, '[erased]');
      assert.equal(e?.actor.id, 'alice', 'fields that were not encrypted stay');
    }
    const bob = page[ids.bob[0] as string];
    assert.equal(bob?.actor.name, key === piiKey ? 'Bob Builder' : '***', 'other subjects are untouched');
    const one = await app.inject({ method: 'GET', url: `/v1/events/${ids.alice[0]}`, headers: { authorization: `Bearer ${key}` } });
    assert.equal(one.statusCode, 200);
    assert.equal((JSON.parse(one.body) as { actor: { name: string } }).actor.name, '[erased]');
    const exported = await exportAll(key);
    assert.ok(!exported.includes(NAME) && !exported.includes(EMAIL) && !exported.includes('enc:v1:'));
    assert.ok(exported.includes('[erased]'));
  }
  assert.equal((await rawRows()).digest, before.digest, 'stored rows are unchanged');

  await waitFor(
    'the erasure audit event stored',
    async () => {
      const [row] = await env.ch.queryRows<{ n: string }>(
        `SELECT count() AS n FROM ${env.database}.events WHERE tenant_id = '${env.tenant}' AND action = 'subject.erase' AND resource_id = 'alice' AND outcome = 'success'`,
      );
      return Number(row?.n ?? 0);
    },
    (n) => n === 1,
    30_000,
  );

  // A legal hold on the tenant: erase refuses, naming the tenant; bob stays readable.
  await placeLegalHold(env.ch, { tenant_id: env.tenant, reason: 'litigation' });
  const held = await cli(['erase', '--subject', 'bob', '--tenant', env.tenant, '--reason', 'GDPR request 43']);
  assert.notEqual(held.code, 0);
  assert.match(held.stderr, new RegExp(`tenant ${env.tenant} is under legal hold`));
  assert.doesNotMatch(held.stderr, /at .*\.ts:\d+/, 'a clear error, not a stack trace');
  await sleep(CACHE_TTL_MS + 100);
  assert.equal((await search(piiKey))[ids.bob[0] as string]?.actor.name, 'Bob Builder');

  // verify needs no keys: the chain covers the ciphertext, which erasure did not touch.
  await sleep(1500);
  const proc = ingest as IngestChild;
  proc.proc.kill('SIGTERM');
  assert.equal(await proc.exited, 0, 'ingest stops cleanly');
  ingest = undefined;
  const report = await verifyTestEnv(env);
  assert.deepEqual(
    report.findings.filter((f) => f.severity === 'error'),
    [],
  );
  assert.equal(report.ok, true);
  assert.ok(report.entries >= N + 1, 'the chain covers the encrypted events and the erasure event');
});

test('master key rotation: keys rewrap moves every live data key to the new master key; the old one can be retired; erased keys stay gone', async () => {
  const newKeyFile = join(keyDir, 'master-2.key');
  writeFileSync(newKeyFile, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  // bob, plus the subjects of the API's self-audit events and of the erasure event (operators, key ids).
  const [live] = await env.ch.queryRows<{ n: string }>(`SELECT count() AS n FROM ${env.database}.subject_keys`);
  const r = await cli(['keys', 'rewrap'], {
    AUDITSTREAM_ENCRYPTION__MASTER_KEY_FILE: newKeyFile,
    AUDITSTREAM_ENCRYPTION__PREVIOUS_MASTER_KEY_FILES: masterKeyFile,
  });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(Number(live?.n) >= 2);
  assert.match(r.stdout, new RegExp(`Re-wrapped ${Number(live?.n)} data key\\(s\\)`));
  const rows = await env.ch.queryRows<{ subject_id: string; key_id: string; master_key_id: string }>(
    `SELECT subject_id, key_id, master_key_id FROM ${env.database}.subject_keys`,
  );
  const newWrapper = createLocalKeyWrapper({ keys: [parseMasterKey(readFileSync(newKeyFile, 'utf8'), 'test')] });
  assert.equal(rows.length, Number(live?.n), 'one copy per data key');
  assert.ok(
    rows.every((row) => row.master_key_id === newWrapper.keyId),
    'every copy wrapped by the new master key',
  );
  assert.ok(rows.some((row) => row.subject_id === 'bob'));
  assert.ok(!rows.some((row) => row.subject_id === 'alice'), 'the erased subject is not resurrected');
  // An API holding only the new master key reads bob in clear and alice as erased.
  const rotated = apiWith({ store: createSubjectKeyStore({ ch: env.ch, wrapper: newWrapper, cacheTtlMs: 1, cacheMaxEntries: 10, readOnly: true }) });
  try {
    const res = await rotated.inject({
      method: 'GET',
      url: `/v1/events?${range()}&tenant=${env.tenant}&action=user.login&limit=100`,
      headers: { authorization: `Bearer ${piiKey}` },
    });
    assert.equal(res.statusCode, 200, res.body);
    const byId = new Map((JSON.parse(res.body) as { data: { event_id: string; actor: { name: string } }[] }).data.map((e) => [e.event_id, e.actor.name]));
    assert.equal(byId.get(ids.bob[0] as string), 'Bob Builder');
    assert.equal(byId.get(ids.alice[0] as string), '[erased]');
  } finally {
    await rotated.close();
  }
});
