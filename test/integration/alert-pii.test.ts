import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { type AlertingService, alertingSection, createAlerting, createAlertProtector } from '@auditstream/alerting';
import { apiDefaults, buildApi, createApiKey } from '@auditstream/api';
import { createClickHouse, sql, table } from '@auditstream/clickhouse';
import { createCodec } from '@auditstream/codec';
import { uniqueName } from '@auditstream/core';
import { createLocalKeyWrapper, createSubjectKeyStore, eraseSubject } from '@auditstream/crypto';
import { deleteTopics } from '@auditstream/kafka';
import { createLogger, createMetricsRegistry } from '@auditstream/observability';
import { createTestEnv, loginEvent, type TestEnv, type WebhookHit, waitFor, webhookReceiver } from '@auditstream/test';
import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';

// Alerts must not leak the personal data that events withhold (docs/field-encryption.md#alerts).
// The real Kafka and ClickHouse 18.16, the shipped default rules, the alerting service with its
// ClickHouse history and a webhook, the query API in-process. A brute-force alert fires for an
// actor whose source IP is an encrypted field (the rule's summary reads "{actor.ip}"), and so
// does password spraying, which groups by that IP: an API key without the PII permission sees
// no clear IP in /v1/alerts (the body is searched), a PII key sees it; the stored rows hold no
// clear IP, nor does the webhook (alerting.sinks_include_pii defaults to false); after erasing
// the subject the IP reads "[erased]" for everyone.

const IP = '198.51.100.77';
const SPRAY_IP = '203.0.113.99';
const FIELDS = ['actor.name', 'actor.ip', 'attributes.email'];
const codec = createCodec();
let env: TestEnv;
let alertsTopic: string;
let alerting: AlertingService;
let hook: Awaited<ReturnType<typeof webhookReceiver>>;
let app: FastifyInstance;
const keys = { pii: '', plain: '' };
const t0 = Date.now();
const secret = 'alert-pii-secret';

before(async () => {
  env = await createTestEnv({ partitions: 1 });
  alertsTopic = uniqueName('alert_pii_alerts');
  const admin = env.kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: alertsTopic, numPartitions: 1 }], waitForLeaders: true });
  await admin.disconnect();
  hook = await webhookReceiver(secret);
  const store = createSubjectKeyStore({ ch: env.ch, wrapper: createLocalKeyWrapper({ keys: [randomBytes(32)] }), cacheTtlMs: 0, cacheMaxEntries: 100 });
  alerting = createAlerting({
    config: alertingSection.parse({
      rules_file: 'deploy/rules/default.yaml',
      consumer_group: uniqueName('alert_pii'),
      tick_interval_ms: 200,
      sinks: { clickhouse: { enabled: true }, webhook: { enabled: true, url: hook.url, secret, max_attempts: 3, initial_delay_ms: 50 } },
    }),
    kafka: env.kafka,
    topics: { events: env.topic, alerts: alertsTopic },
    registry: new Registry(),
    logger: createLogger({ service: 'alert-pii', level: 'warn' }),
    decodeEvent: (v) => codec.decodeSync(v) as never,
    clickhouse: () => createClickHouse(env.config.clickhouse, { logger: createLogger({ service: 'alert-pii', level: 'silent' }), component: 'alert-pii' }),
    pii: { fields: FIELDS, subject_field: 'actor.id', protector: createAlertProtector({ store, fields: FIELDS, mask: '***' }) },
    observability: false,
  });
  await alerting.start();
  app = buildApi({
    config: apiDefaults({ api_key_cache_ttl_ms: 0, rate_limit_burst: 1_000_000, rate_limit_per_s: 1_000_000 }),
    clickhouse: env.ch,
    logger: createLogger({ service: 'alert-pii-api', level: 'silent' }),
    metrics: createMetricsRegistry({ service: 'alert-pii-api', defaultMetrics: false }),
    recordEvent: async () => undefined,
    fields: { store, mask: '***', erased: '[erased]' },
  });
  keys.pii = (await createApiKey(env.ch, { role: 'admin', tenants: [], pii: true })).key;
  keys.plain = (await createApiKey(env.ch, { role: 'admin', tenants: [] })).key;

  const producer = env.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer.connect();
  const events = [
    ...Array.from({ length: 6 }, (_, i) => loginEvent('victim', IP, 'failure', t0 + i * 100, env.tenant)),
    ...Array.from({ length: 10 }, (_, i) => loginEvent(`sprayed${i}`, SPRAY_IP, 'failure', t0 + i * 100, env.tenant)),
  ];
  await producer.send({ topic: env.topic, acks: -1, messages: events.map((e) => ({ key: e.tenant_id, value: codec.encodeSync(e) })) });
  await producer.disconnect();
  await waitFor('both alerts stored', async () => (await storedRows()).length >= 2, 30_000, { everyMs: 200 });
});

after(async () => {
  await alerting?.stop();
  await app?.close();
  await hook?.close();
  try {
    if (env) await deleteTopics(env.kafka, [alertsTopic]);
  } finally {
    await env?.cleanup();
  }
});

async function storedRows(): Promise<Array<{ rule_id: string; details: string }>> {
  return env.ch.queryRows(sql`SELECT rule_id, details FROM ${table(env.database, 'alerts')} FINAL ORDER BY rule_id`, { operation: 'test' });
}

interface AlertAnswer {
  rule_id: string;
  details: Record<string, string>;
  masked: Array<{ path: string; reason: string }>;
}

async function alerts(key: string): Promise<{ body: string; byRule: Map<string, AlertAnswer> }> {
  const from = new Date(t0 - 3_600_000).toISOString();
  const to = new Date(Date.now() + 3_600_000).toISOString();
  const r = await app.inject({ method: 'GET', url: `/v1/alerts?from=${from}&to=${to}&tenant=${env.tenant}`, headers: { authorization: `Bearer ${key}` } });
  assert.equal(r.statusCode, 200, r.body);
  const data = (JSON.parse(r.body) as { data: AlertAnswer[] }).data;
  return { body: r.body, byRule: new Map(data.map((a) => [a.rule_id, a])) };
}

const paths = (a: AlertAnswer | undefined) => (a?.masked ?? []).map((m) => `${m.path}:${m.reason}`).sort();

test('the alert history in ClickHouse and the webhook hold no clear IP', async () => {
  const rows = await storedRows();
  assert.deepEqual(rows.map((r) => r.rule_id).sort(), ['brute_force', 'password_spraying']);
  for (const r of rows) {
    assert.ok(!r.details.includes(IP) && !r.details.includes(SPRAY_IP), `stored ${r.rule_id} row holds a clear IP: ${r.details}`);
  }
  await waitFor('two webhook deliveries', () => hook.hits.length >= 2, 20_000, { everyMs: 100 });
  const sent = JSON.stringify(hook.hits.map((h: WebhookHit) => h.alert));
  assert.ok(!sent.includes(IP) && !sent.includes(SPRAY_IP), `the webhook got a clear IP: ${sent}`);
});

test('/v1/alerts: no clear IP without the PII permission, the masked paths named; the clear IP with it', async () => {
  const plain = await alerts(keys.plain);
  assert.ok(!plain.body.includes(IP) && !plain.body.includes(SPRAY_IP), `a clear IP reached a non-PII caller: ${plain.body}`);
  assert.ok(!plain.body.includes('enc:v1:'), 'envelopes never leave the API');
  assert.deepEqual(paths(plain.byRule.get('brute_force')), ['details.pii.actor.ip:no_pii_permission']);
  assert.deepEqual(paths(plain.byRule.get('password_spraying')), ['details.group.actor.ip:no_pii_permission']);
  assert.match(String(plain.byRule.get('brute_force')?.details.summary), /last from \[actor\.ip\]/);

  for (const a of plain.byRule.values()) assert.equal(a.details.source_ip, undefined, 'an encrypted field is no search parameter');

  const pii = await alerts(keys.pii);
  assert.equal(pii.byRule.get('brute_force')?.details['pii.actor.ip'], IP);
  assert.equal(pii.byRule.get('password_spraying')?.details['group.actor.ip'], SPRAY_IP);
  assert.deepEqual(pii.byRule.get('brute_force')?.masked, []);
});

test("erasing the subject makes the alert's IP unreadable for every caller", async () => {
  await eraseSubject({
    ch: env.ch,
    subject: 'victim',
    tenant: env.tenant,
    reason: 'test',
    recordEvent: async () => undefined,
    actorId: 'test',
    keyCacheTtlMs: 0,
  });
  const pii = await alerts(keys.pii);
  assert.ok(!pii.body.includes(IP), 'the erased IP is gone');
  assert.equal(pii.byRule.get('brute_force')?.details['pii.actor.ip'], '[erased]');
  assert.deepEqual(paths(pii.byRule.get('brute_force')), ['details.pii.actor.ip:erased']);
  assert.equal(pii.byRule.get('password_spraying')?.details['group.actor.ip'], SPRAY_IP, "another subject's alert stays readable");
});
