import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { loadConfig } from '@auditstream/config';
import { uniqueName } from '@auditstream/core';
import { deleteTopics } from '@auditstream/kafka';
import { testKafka, waitFor } from '@auditstream/test';
import type { Producer } from 'kafkajs';
import { alertingConfigSchema } from '../config.js';
import { T, testAlert } from './alert.test-helper.js';
import { buildSinks } from './registry.js';

// The JSON alert sink against the real Kafka: enabled by config alone, it publishes each
// delivery as JSON (key = alert_id, header auditstream-delivery) to its own topic.
const kafka = testKafka('json-sink-test');
const topic = uniqueName('alerts_json');
let producer: Producer | undefined;

after(async () => {
  await producer?.disconnect();
  await deleteTopics(kafka, [topic]);
});

const alert = testAlert({ summary: '6 failed logins for alice' });

test('json sink: alerts as JSON on a Kafka topic, fired and updated, keyed by alert_id', async () => {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  await admin.disconnect();

  const cfg = loadConfig(alertingConfigSchema, {
    env: {
      AUDITSTREAM_ALERTING__SINKS__KAFKA__ENABLED: 'false',
      AUDITSTREAM_ALERTING__SINKS__JSON__ENABLED: 'true',
      AUDITSTREAM_ALERTING__SINKS__JSON__TOPIC: topic,
    },
  });
  const built = await buildSinks(cfg.alerting.sinks, {
    topics: { alerts: 'not-used' },
    encodeAlert: () => Buffer.alloc(0),
    producer: async () => {
      producer ??= kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
      await producer.connect();
      return producer;
    },
  });
  assert.deepEqual(
    built.map((b) => b.sink.name),
    ['json'],
  );
  const sink = built[0]?.sink;
  assert.ok(sink?.sendUpdates);
  const signal = new AbortController().signal;
  await sink.send({ kind: 'fired', alert }, signal);
  await sink.send({ kind: 'updated', alert: { ...alert, count: 9, version: 1, updated_at: T + 60_000 } }, signal);

  const got: { key: string; delivery: string; value: { kind: string; alert: Record<string, unknown> } }[] = [];
  const consumer = kafka.consumer({ groupId: uniqueName('json_sink_reader'), maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      got.push({
        key: String(message.key),
        delivery: String(message.headers?.['auditstream-delivery']),
        value: JSON.parse(String(message.value)),
      });
    },
  });
  try {
    await waitFor('two JSON alerts on the topic', () => got.length >= 2, 30_000, { everyMs: 100 });
  } finally {
    await consumer.disconnect();
  }
  assert.deepEqual(
    got.map((g) => [g.key, g.delivery, g.value.kind, g.value.alert.count, g.value.alert.version]),
    [
      [alert.alert_id, 'fired', 'fired', 6, 0],
      [alert.alert_id, 'updated', 'updated', 9, 1],
    ],
  );
  assert.equal(got[0]?.value.alert.fired_at, '2026-03-02T10:00:51.000Z');
  assert.equal(got[1]?.value.alert.updated_at, '2026-03-02T10:01:00.000Z');
  assert.deepEqual(got[0]?.value.alert.group, alert.group);
});
