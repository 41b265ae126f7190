import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createCodec } from '@auditstream/codec';
import { uuidv7 } from '@auditstream/core';
import { createAuditProducer } from '@auditstream/producer';
import type { AuditEventInput } from '@auditstream/schemas';
import { sampleInput, type TestEnv, waitFor, waitForStored } from '@auditstream/test';
import { type InProcessPipeline, startPipeline } from '../helpers/pipeline.js';

// Loss detection end to end on the local Kafka and ClickHouse: the real ingest and alerting
// (their app.ts factories) on a 3-partition topic. The SDK's traffic is numbered without gaps and
// raises nothing; a raw producer that numbers its own events skips 4 and 5 (as if the broker never
// got them), repeats 2 (a retry / re-delivery) and sends 8 invalid (ingest dead-letters it): one
// event_loss alert names exactly 4..5 and the raw producer.

const PARTITIONS = 3;
const codec = createCodec();
const RULES = `version: 1
rules:
  - id: event_loss
    type: event_loss
    severity: high
    event_loss: { grace_s: 1, tenant: ops }
`;

let pipeline: InProcessPipeline;
let env: TestEnv;

before(async () => {
  pipeline = await startPipeline({ name: 'loss', partitions: PARTITIONS, rulesYaml: RULES });
  env = pipeline.env;
});

after(async () => {
  await pipeline?.stop();
});

test('SDK traffic raises nothing; a skipped range raises one event_loss alert naming it; retries and dead letters are not losses', async () => {
  // 1. The SDK: numbered 0..39 across every partition, stored with the numbers.
  const sdk = createAuditProducer({ kafka: env.kafka, topic: env.topic, linger_ms: 5 });
  const SDK_EVENTS = 40;
  await sdk.publishMany(Array.from({ length: SDK_EVENTS }, (_, i) => sampleInput(env.tenant, i)));
  await sdk.close();

  // 2. A raw producer (another language, say) numbering its own events, spread over the partitions.
  const raw = uuidv7();
  const now = Date.now();
  const event = (seq: number, over: Partial<AuditEventInput> = {}): AuditEventInput => ({
    event_id: uuidv7(now + seq),
    tenant_id: env.tenant,
    occurred_at: (now + seq) * 1000,
    actor: { id: `raw-${seq}`, type: 'service' },
    action: 'job.run',
    category: 'system',
    outcome: 'success',
    service: 'raw-producer',
    producer_id: raw,
    producer_seq: seq,
    ...over,
  });
  const two = event(2);
  const sent = [event(0), event(1), two, two, event(3), event(6), event(7), event(8, { action: 'Not Valid' }), event(9)];
  const producer = env.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    await producer.send({
      topic: env.topic,
      acks: -1,
      messages: sent.map((e, i) => ({ partition: i % PARTITIONS, key: e.actor.id, value: Buffer.from(codec.encodeSync(e)) })),
    });
  } finally {
    await producer.disconnect();
  }

  const loss = () => pipeline.delivered.filter((d) => d.kind === 'fired' && d.alert.rule_type === 'event_loss');
  await waitFor('the event_loss alert', () => loss().length >= 1, 60_000, { everyMs: 100 });
  // The SDK's events were all evaluated before the raw ones: a gap among them would have been due first.
  const alerts = loss();
  assert.equal(alerts.length, 1, JSON.stringify(alerts.map((a) => a.alert.details)));
  const a = alerts[0]!.alert;
  assert.equal(a.tenant_id, 'ops');
  assert.equal(a.group.producer_id, raw);
  assert.deepEqual([a.details.missing_from, a.details.missing_to, a.details.missing_count], ['4', '5', '2']);
  assert.equal(a.details.next_event_id, sent[5]!.event_id, 'the first event after the gap');
  assert.match(a.summary, new RegExp(`2 event\\(s\\) of producer ${raw} never arrived: numbers 4 to 5`));
  const lost = (await pipeline.alertingRegistry.getMetricsAsJSON()).find((m) => m.name === 'auditstream_alerting_lost_events_total');
  assert.equal(lost?.values[0]?.value, 2);

  // 3. What ingest stored carries the numbers: the SDK's 0..39 under its id, the raw producer's valid ones.
  await waitForStored(env, SDK_EVENTS + 7, { timeoutMs: 60_000, everyMs: 200 });
  const rows = await env.ch.queryRows<{ producer_id: string; seqs: number[] }>(
    `SELECT producer_id, arraySort(groupUniqArray(producer_seq)) AS seqs FROM ${env.database}.events WHERE tenant_id = '${env.tenant}' GROUP BY producer_id`,
  );
  const byProducer = new Map(rows.map((r) => [r.producer_id, r.seqs.map(Number)]));
  assert.deepEqual(
    byProducer.get(sdk.producer_id),
    Array.from({ length: SDK_EVENTS }, (_, i) => i),
  );
  assert.deepEqual(byProducer.get(raw), [0, 1, 2, 3, 6, 7, 9]);
});
