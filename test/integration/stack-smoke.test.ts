import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { repoRoot, uniqueName } from '@auditstream/core';
import { deleteTopics } from '@auditstream/kafka';
import { testConfig, testKafka } from '@auditstream/test';
import { createClient } from '@clickhouse/client';

const cli = join(repoRoot(), 'node_modules', '.bin', 'auditstream');

test('a second `stack up` says the stack is already running, and status shows both healthy', () => {
  const out = execFileSync(cli, ['stack', 'up'], { encoding: 'utf8' });
  assert.match(out, /already running/);
  const status = execFileSync(cli, ['stack', 'status'], { encoding: 'utf8' });
  const cfg = testConfig();
  const kafkaPort = (cfg.kafka.brokers[0] as string).split(':')[1];
  const chPort = new URL(cfg.clickhouse.url).port;
  assert.match(status, new RegExp(`^clickhouse\\s+\\d+\\s+${chPort},${cfg.stack.clickhouse_tcp_port}\\s+healthy`, 'm'));
  assert.match(status, new RegExp(`^kafka\\s+\\d+\\s+${kafkaPort},${cfg.stack.kafka_controller_port}\\s+healthy\\s+4\\.`, 'm'));
});

test('kafkajs creates a topic, then produces and consumes a message', async () => {
  const kafka = testKafka('smoke');
  const topic = uniqueName('smoke_topic');
  const groupId = uniqueName('smoke_group');
  const admin = kafka.admin();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  const consumer = kafka.consumer({ groupId });
  after(async () => {
    await consumer.disconnect();
    await producer.disconnect();
    await admin.disconnect();
    await deleteTopics(kafka, [topic]);
  });
  await admin.connect();
  assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true }), true);
  await producer.connect();
  const [meta] = await producer.send({ topic, acks: -1, messages: [{ key: 'k', value: 'hello auditstream' }] });
  assert.ok(meta);
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const received = await new Promise<{ value: string; partition: number; offset: string }>((resolve) => {
    consumer.run({ eachMessage: async ({ message, partition }) => resolve({ value: String(message.value), partition, offset: message.offset }) });
  });
  assert.deepEqual(received, { value: 'hello auditstream', partition: meta.partition, offset: meta.baseOffset });
});

test('@clickhouse/client creates a table, inserts and selects rows', async () => {
  const cfg = testConfig();
  const client = createClient({ url: cfg.clickhouse.url, username: cfg.clickhouse.username, password: cfg.clickhouse.password });
  const table = uniqueName('smoke_table');
  try {
    await client.command({ query: `CREATE TABLE default.${table} (id UInt32, name String) ENGINE = MergeTree ORDER BY id` });
    await client.insert({
      table: `default.${table}`,
      values: [
        { id: 1, name: 'a' },
        { id: 2, name: "o'brien" },
      ],
      format: 'JSONEachRow',
    });
    const rs = await client.query({ query: `SELECT id, name FROM default.${table} ORDER BY id`, format: 'JSONEachRow' });
    assert.deepEqual(await rs.json(), [
      { id: 1, name: 'a' },
      { id: 2, name: "o'brien" },
    ]);
  } finally {
    await client.command({ query: `DROP TABLE IF EXISTS default.${table}` }).catch(() => {});
    await client.close();
  }
});
