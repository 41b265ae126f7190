import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { createCodec } from '@auditstream/codec';
import { repoRoot, uniqueName } from '@auditstream/core';
import { deleteTopics } from '@auditstream/kafka';
import { testConfig, testKafka } from '@auditstream/test';

test('auditstream retention apply records the run as an audit event on the events topic', async () => {
  const topic = uniqueName('retention_events');
  const database = uniqueName('retention_db');
  const kafka = testKafka('retention-test');
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    const env = { ...process.env, AUDITSTREAM_TOPICS__EVENTS: topic, AUDITSTREAM_CLICKHOUSE__DATABASE: database };
    const bin = join(repoRoot(), 'services/cli/bin/auditstream.js');
    execFileSync(process.execPath, [bin, 'migrate'], { env, stdio: 'pipe' });
    const out = execFileSync(process.execPath, [bin, 'retention', 'apply', '--dry-run'], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    assert.match(out, /Dry run/);
    const [p] = await admin.fetchTopicOffsets(topic);
    assert.equal(p?.high, '1', 'exactly one audit event for the run');
    const consumer = kafka.consumer({ groupId: uniqueName('retention_group') });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const codec = createCodec();
    const event = await new Promise<Record<string, unknown>>((resolve) => {
      void consumer.run({ eachMessage: async ({ message }) => resolve(codec.decodeSync(message.value as Buffer) as unknown as Record<string, unknown>) });
    });
    await consumer.disconnect();
    assert.match(String(event.action), /^retention\./);
    assert.equal(event.category, 'admin');
  } finally {
    await admin.disconnect();
    const { createClient } = await import('@clickhouse/client');
    const c = createClient({ url: testConfig().clickhouse.url });
    await c.command({ query: `DROP DATABASE IF EXISTS ${database}` }).catch(() => {});
    await c.close();
    await deleteTopics(kafka, [topic]);
  }
});
