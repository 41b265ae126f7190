import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { uniqueName, uuidv7 } from '@auditstream/core';
import { deleteTopics } from '@auditstream/kafka';
import { createLogger } from '@auditstream/observability';
import { createAuditProducer, type PublishInput } from '@auditstream/producer';
import { testKafka, waitFor } from '@auditstream/test';
import { Registry } from 'prom-client';
import type { AlertDelivery } from './alert.js';
import { createAlerting } from './app.js';
import { alertingSection } from './config.js';
import type { AlertEvent } from './event.js';
import { codec, createTopics } from './int.test-helper.js';
import { repartitionTopicName } from './repartition.js';

// event_loss on a backlog, on the real Kafka: one producer's events are published through the SDK
// over 6 partitions BEFORE alerting starts (start_from earliest), as in `auditstream bench
// --cluster`. kafkajs hands over one partition's batch at a time, so numbers from one partition
// arrive long before their neighbours from another, while the events' times span two minutes:
// before the fix the gaps were judged on that event-time clock and fired by the hundred.

const kafka = testKafka('alerting-event-loss-int');
const PARTITIONS = 6;
const EVENTS = 24_000;
const SPAN_MS = 120_000;
const rulesDir = mkdtempSync(join(tmpdir(), 'event-loss-int-'));
const rulesFile = join(rulesDir, 'rules.yaml');
writeFileSync(
  rulesFile,
  `version: 1
rules:
  - id: event_loss
    type: event_loss
    severity: high
    event_loss: { grace_s: 2, tenant: ops }
`,
);
const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

/** Events 0..EVENTS-1 over the last SPAN_MS, keyed by 500 actors (so over every partition); `numbered` gives them their own producer numbering. */
function backlogEvents(tenant: string, numbered?: { producer_id: string; withheld: number }): PublishInput[] {
  const base = Date.now() - SPAN_MS - 10_000;
  const out: PublishInput[] = [];
  for (let i = 0; i < EVENTS; i++) {
    if (numbered && i === numbered.withheld) continue;
    out.push({
      event_id: uuidv7(),
      tenant_id: tenant,
      occurred_at: Math.round((base + (i * SPAN_MS) / EVENTS) * 1000),
      actor: { id: `user-${i % 500}`, type: 'user' },
      action: 'document.read',
      category: 'resource_access',
      outcome: 'success',
      service: 'backlog',
      ...(numbered ? { producer_id: numbered.producer_id, producer_seq: i } : {}),
    });
  }
  return out;
}

/** Publishes through the SDK (acks=all), then starts alerting on the topic from its beginning. */
async function backlogThenAlerting(name: string, events: PublishInput[], config: Record<string, unknown> = {}) {
  const topics = await createTopics(kafka, name, PARTITIONS);
  cleanups.push(() => topics.drop());
  const sdk = createAuditProducer({ kafka, topic: topics.events, max_buffer_events: 50_000, linger_ms: 5 });
  for (let i = 0; i < events.length; i += 4000) await sdk.publishMany(events.slice(i, i + 4000));
  await sdk.close();

  const delivered: AlertDelivery[] = [];
  const registry = new Registry();
  const parsed = alertingSection.parse({
    rules_file: rulesFile,
    consumer_group: uniqueName(`alerting_${name}`),
    start_from: 'earliest',
    tick_interval_ms: 100,
    watch_rules: false,
    sinks: { kafka: { enabled: false } },
    ...config,
  });
  const app = createAlerting({
    config: parsed,
    kafka,
    topics: { events: topics.events, alerts: topics.alerts },
    registry,
    logger: createLogger({ service: `alerting-${name}-test`, level: 'warn' }),
    decodeEvent: (v) => codec.decodeSync(v) as unknown as AlertEvent,
    extraSinks: [
      {
        sink: { name: 'test', sendUpdates: true, send: async (d) => void delivered.push(d) },
        queue: { queue_size: 10_000, max_attempts: 1, initial_delay_ms: 10, max_delay_ms: 10 },
      },
    ],
    observability: false,
  });
  cleanups.push(async () => {
    // Scaled out, alerting created its repartition topic.
    if (!config.repartition) return;
    await deleteTopics(kafka, [repartitionTopicName(parsed, topics.events)]);
  });
  await app.start();
  cleanups.push(() => app.stop());
  const metric = async (name: string): Promise<number> =>
    ((await registry.getMetricsAsJSON()).find((m) => m.name === name)?.values ?? []).reduce((s, v) => s + v.value, 0);
  /** Every event evaluated and no number held beyond a hole (each was filled or judged): nothing left to fire. */
  const settled = async (evaluated: number) =>
    waitFor(
      'the backlog evaluated and every hole settled',
      async () => (await metric('auditstream_alerting_evaluated_events_total')) === evaluated && app.engine.stateEntries() === 1,
      120_000,
      { everyMs: 100 },
    );
  return { app, delivered, metric, settled };
}

test('a multi-partition backlog of one SDK producer raises no event_loss alert', async () => {
  const tenant = uniqueName('loss_backlog');
  // The default memory bound (max_events_per_key 10,000): whether a range is skipped on the way depends on the read order.
  const { metric, settled, delivered } = await backlogThenAlerting('loss_backlog', backlogEvents(tenant));
  await settled(EVENTS);
  assert.equal(await metric('auditstream_alerting_alerts_fired_total'), 0, JSON.stringify(delivered.slice(0, 3).map((d) => d.alert.details)));
  assert.equal(await metric('auditstream_alerting_lost_events_total'), 0);
});

test('the same backlog through the repartition stage (alerting.repartition) raises no event_loss alert', async () => {
  // The stage reads the events topic a partition batch at a time too, and copies in that order.
  const tenant = uniqueName('loss_backlog_rp');
  const { metric, settled, delivered } = await backlogThenAlerting('loss_backlog_rp', backlogEvents(tenant), { repartition: true });
  await settled(EVENTS);
  assert.equal(await metric('auditstream_alerting_alerts_fired_total'), 0, JSON.stringify(delivered.slice(0, 3).map((d) => d.alert.details)));
});

test('a number withheld from the backlog fires exactly one event_loss alert, naming it', async () => {
  const tenant = uniqueName('loss_withheld');
  const producerId = uuidv7();
  const withheld = 17_001;
  // A bound above the backlog, so that no range is skipped past it while behind (loss-tracker.ts): every number is judged.
  const { metric, settled, delivered } = await backlogThenAlerting('loss_withheld', backlogEvents(tenant, { producer_id: producerId, withheld }), {
    max_events_per_key: 2 * EVENTS,
  });
  await settled(EVENTS - 1);
  assert.equal(await metric('auditstream_alerting_event_loss_skipped_total'), 0);
  await waitFor('its delivery', () => delivered.length >= 1, 10_000, { everyMs: 50 });
  const fired = delivered.filter((d) => d.kind === 'fired');
  assert.equal(await metric('auditstream_alerting_alerts_fired_total'), 1, JSON.stringify(fired.slice(0, 3).map((d) => d.alert.details)));
  assert.equal(await metric('auditstream_alerting_lost_events_total'), 1);
  const a = delivered[0]!.alert;
  assert.equal(a.rule_type, 'event_loss');
  assert.deepEqual(a.group, { tenant_id: 'ops', producer_id: producerId });
  assert.deepEqual([a.details.missing_from, a.details.missing_to], [String(withheld), String(withheld)]);
});
