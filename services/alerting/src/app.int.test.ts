import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { uniqueName } from '@auditstream/core';
import { createLogger } from '@auditstream/observability';
import { testKafka, waitFor, webhookReceiver } from '@auditstream/test';
import { Registry } from 'prom-client';
import { createAlerting } from './app.js';
import { alertingSection } from './config.js';
import type { AlertEvent } from './event.js';
import { codec, createTopics, login, produce, readAlerts } from './int.test-helper.js';

// The real Kafka (127.0.0.1:9092 unless AUDITSTREAM_KAFKA__BROKERS says otherwise), the
// shipped default rules, a webhook receiver verifying signatures: nothing is mocked.
const kafka = testKafka('alerting-int');
const secret = 'int-test-secret';
let topics: Awaited<ReturnType<typeof createTopics>>;
let hook: Awaited<ReturnType<typeof webhookReceiver>>;
let app: ReturnType<typeof createAlerting>;
const registry = new Registry();

before(async () => {
  topics = await createTopics(kafka, 'alerting_int');
  hook = await webhookReceiver(secret);
  app = createAlerting({
    config: alertingSection.parse({
      rules_file: 'deploy/rules/default.yaml',
      consumer_group: uniqueName('alerting_int'),
      tick_interval_ms: 200,
      sinks: { webhook: { enabled: true, url: hook.url, secret, max_attempts: 3, initial_delay_ms: 50 } },
    }),
    kafka,
    topics: { events: topics.events, alerts: topics.alerts },
    registry,
    logger: createLogger({ service: 'alerting-int', level: 'warn' }),
    decodeEvent: (v) => codec.decodeSync(v) as unknown as AlertEvent,
    observability: { host: '127.0.0.1', port: 0 },
  });
  await app.start();
});

after(async () => {
  await app?.stop();
  await hook?.close();
  await topics?.drop();
});

test('6 failed logins → exactly one alert on the alerts topic and at the webhook; 4 → none; spraying 12 actors → alert', async () => {
  const t = Date.now();
  const events = [
    ...Array.from({ length: 6 }, (_, i) => login('victim', '198.51.100.10', 'failure', t + i * 100)),
    ...Array.from({ length: 4 }, (_, i) => login('lucky', '198.51.100.20', 'failure', t + i * 100)),
    ...Array.from({ length: 12 }, (_, i) => login(`user${i}`, '203.0.113.66', 'failure', t + i * 100)),
  ];
  await produce(kafka, topics.events, events);
  await waitFor('two webhook deliveries', () => hook.hits.length >= 2, 20_000, { everyMs: 100 });
  await new Promise((r) => setTimeout(r, 1500)); // anything extra would arrive by now

  const fired = hook.hits.filter((h) => h.kind === 'fired');
  assert.deepEqual(fired.map((h) => h.alert.rule_id).sort(), ['brute_force', 'password_spraying']);
  assert.equal(fired.find((h) => h.alert.rule_id === 'brute_force')?.alert.group['actor.id'], 'victim');
  assert.equal(fired.find((h) => h.alert.rule_id === 'password_spraying')?.alert.group['actor.ip'], '203.0.113.66');
  assert.equal(hook.rejected(), 0);

  const onTopic = await readAlerts(kafka, topics.alerts, 3000);
  const byRule = (id: string) => onTopic.filter((d) => d.alert.rule_id === id);
  assert.equal(new Set(byRule('brute_force').map((d) => d.alert.alert_id)).size, 1, 'one brute_force alert');
  assert.equal(byRule('brute_force').filter((d) => d.kind === 'fired').length, 1);
  assert.equal(byRule('brute_force')[0]?.alert.count, 6);
  assert.equal(byRule('brute_force')[0]?.alert.sample_event_ids.length, 6);
  assert.equal(new Set(byRule('password_spraying').map((d) => d.alert.alert_id)).size, 1);
  assert.ok(!onTopic.some((d) => d.alert.group['actor.id'] === 'lucky'), '4 failures fire nothing');

  const metrics = await registry.metrics();
  assert.match(metrics, /auditstream_alerting_alerts_fired_total\{rule_id="brute_force"\} 1/);
  assert.match(metrics, /auditstream_alerting_sink_deliveries_total\{sink="webhook",result="delivered"\} 2/);
  assert.match(metrics, /auditstream_alerting_evaluated_events_total 22/);
  const ready = await fetch(`${app.metricsUrl}/readyz`);
  assert.equal(ready.status, 200);
});

test("a tenant publishing at now + 60 s and now + 299 s does not blind another tenant's real-time brute force", async () => {
  const counter = async (name: string) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(await registry.metrics())?.[1] ?? 0);
  const evaluatedBefore = await counter('auditstream_alerting_evaluated_events_total');
  const lateBefore = await counter('auditstream_alerting_late_events_total');
  const now = Date.now();
  // Tenant X first, so that on a shared watermark its future times would be seen before Y's events.
  await produce(kafka, topics.events, [
    ...Array.from({ length: 6 }, (_, i) => login('x-one', '198.51.100.30', 'failure', now + 60_000 + i, 'tenant-x')),
    ...Array.from({ length: 6 }, (_, i) => login('x-two', '198.51.100.31', 'failure', now + 299_000 + i, 'tenant-x')),
  ]);
  await waitFor("X's events evaluated", async () => (await counter('auditstream_alerting_evaluated_events_total')) >= evaluatedBefore + 12, 20_000, {
    everyMs: 100,
  });
  const hitsBefore = hook.hits.length;
  const t = Date.now();
  await produce(
    kafka,
    topics.events,
    Array.from({ length: 6 }, (_, i) => login('y-victim', '198.51.100.40', 'failure', t + i * 100, 'tenant-y')),
  );
  await waitFor("Y's brute-force alert", () => hook.hits.slice(hitsBefore).some((h) => h.alert.group.tenant_id === 'tenant-y'), 20_000, { everyMs: 100 });
  const y = hook.hits.find((h) => h.alert.group.tenant_id === 'tenant-y');
  assert.equal(y?.kind, 'fired');
  assert.equal(y?.alert.group['actor.id'], 'y-victim');
  assert.equal(y?.alert.count, 6);
  assert.equal(await counter('auditstream_alerting_late_events_total'), lateBefore, 'nobody was counted late');
  assert.equal(await counter('auditstream_alerting_future_events_total'), 12, "X's future times were evaluated at their arrival");
});
