import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AuditstreamError, uniqueName } from '@auditstream/core';
import { createKafkaClient } from './client.js';
import { defaultTopicSpecs, deleteTopics, ensureTopics } from './topics.js';

const brokers = (process.env.AUDITSTREAM_KAFKA__BROKERS ?? '127.0.0.1:9092').split(',');

test('ensureTopics creates what is missing, leaves what exists, and names the topic when Kafka refuses', async (t) => {
  const kafka = createKafkaClient({ brokers, client_id: 'test' }, { component: 'topics-test' });
  const admin = kafka.admin();
  await admin.connect();
  const prefix = uniqueName('topics');
  const specs = defaultTopicSpecs(
    {
      events: `${prefix}.events`,
      dlq: `${prefix}.events.dlq`,
      alerts: `${prefix}.alerts`,
      checkpoints: `${prefix}.checkpoints`,
      partitions: 3,
      replication_factor: 1,
      retention_ms: 86_400_000,
    },
    {},
  );
  t.after(async () => {
    try {
      await deleteTopics(
        kafka,
        specs.map((s) => s.name),
      );
    } finally {
      await admin.disconnect();
    }
  });

  const first = await ensureTopics(kafka, { topics: specs });
  assert.deepEqual(first.created.sort(), specs.map((s) => s.name).sort());
  const md = await admin.fetchTopicMetadata({ topics: specs.map((s) => s.name) });
  const parts = Object.fromEntries(md.topics.map((x) => [x.name, x.partitions.length]));
  assert.equal(parts[`${prefix}.events`], 3);
  assert.equal(parts[`${prefix}.checkpoints`], 1);
  const cfg = await admin.describeConfigs({ resources: [{ type: 2, name: `${prefix}.events`, configNames: ['retention.ms'] }], includeSynonyms: false });
  assert.equal(cfg.resources[0]?.configEntries.find((e) => e.configName === 'retention.ms')?.configValue, '86400000');

  const warnings: unknown[] = [];
  const second = await ensureTopics(kafka, {
    topics: specs.map((s) => ({ ...s, partitions: 6 })),
    logger: { info: () => {}, warn: (o) => warnings.push(o) },
  });
  assert.deepEqual(second.created, []);
  assert.equal(second.existing.length, 4);
  assert.ok(warnings.length >= 1, 'fewer partitions than configured is reported');

  const bad = `${prefix}.rf`;
  await assert.rejects(
    ensureTopics(kafka, { topics: [{ name: bad, partitions: 1, replicationFactor: 5 }] }),
    (e: unknown) =>
      e instanceof AuditstreamError && e.code === 'TOPIC_CREATE_FAILED' && e.message.includes(`"${bad}"`) && /INVALID_REPLICATION_FACTOR/.test(e.message),
  );
  await assert.rejects(
    ensureTopics(kafka, { topics: [{ name: 'bad name!', partitions: 1, replicationFactor: 1 }] }),
    (e: unknown) => e instanceof AuditstreamError && e.code === 'TOPIC_INVALID',
  );
});

test('deleteTopics deletes every named topic, counts an absent one as deleted, and returns once none is listed', async () => {
  const kafka = createKafkaClient({ brokers, client_id: 'test' }, { component: 'topics-test' });
  const prefix = uniqueName('deltopics');
  const names = [`${prefix}.a`, `${prefix}.b`];
  await ensureTopics(kafka, { topics: names.map((name) => ({ name, partitions: 2, replicationFactor: 1 })) });
  const admin = kafka.admin();
  await admin.connect();
  try {
    assert.deepEqual((await admin.listTopics()).filter((t) => t.startsWith(prefix)).sort(), names);
    await deleteTopics(kafka, [...names, `${prefix}.never`]);
    assert.deepEqual(
      (await admin.listTopics()).filter((t) => t.startsWith(prefix)),
      [],
    );
    await deleteTopics(kafka, names); // again: nothing left to delete
  } finally {
    await admin.disconnect();
  }
});
