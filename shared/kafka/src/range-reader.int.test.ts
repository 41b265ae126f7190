import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AuditstreamError, isAuditstreamError, uniqueName } from '@auditstream/core';
import type { Admin } from 'kafkajs';
import { createKafkaClient } from './client.js';
import { committedOffsets, offsetsAtTime, topicWatermarks, withAdmin } from './offsets.js';
import { rangesToEnd, readRanges } from './range-reader.js';
import { deleteTopics } from './topics.js';

// The topic-range reader and offset helpers against the real Kafka: two partitions, 5 and 3
// messages, values `p<partition>-<i>`.
const brokers = (process.env.AUDITSTREAM_KAFKA__BROKERS ?? '127.0.0.1:9092').split(',');
const kafka = createKafkaClient({ brokers, client_id: 'test' }, { component: 'range-reader-test' });
const topic = uniqueName('range_reader');
let admin: Admin;
let producedAt = 0;

before(async () => {
  admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  producedAt = Date.now();
  const messages = [
    ...Array.from({ length: 5 }, (_, i) => ({ partition: 0, value: `p0-${i}` })),
    ...Array.from({ length: 3 }, (_, i) => ({ partition: 1, value: `p1-${i}` })),
  ];
  await producer.send({ topic, acks: -1, messages });
  await producer.disconnect();
});

after(async () => {
  try {
    await deleteTopics(kafka, [topic]);
  } finally {
    await admin.disconnect();
  }
});

async function read(ranges: Parameters<typeof readRanges>[0]['ranges'], stopAfter = Number.POSITIVE_INFINITY) {
  const got: string[] = [];
  const n = await readRanges({
    kafka,
    admin,
    topic,
    ranges,
    groupPrefix: 'range-test',
    timeoutMs: 30_000,
    onMessage: (m, partition) => {
      got.push(`${partition}@${m.offset}=${m.value}`);
      return got.length < stopAfter;
    },
  });
  return { n, got: got.sort() };
}

test('watermarks, ranges to the end, and offsets at a time', async () => {
  const marks = await topicWatermarks(admin, topic);
  assert.deepEqual(Object.fromEntries(marks), { 0: { low: '0', high: '5' }, 1: { low: '0', high: '3' } });
  assert.deepEqual(await rangesToEnd(admin, topic), [
    { partition: 0, from: '0', to: '5' },
    { partition: 1, from: '0', to: '3' },
  ]);
  assert.deepEqual(await rangesToEnd(admin, topic, '3'), [{ partition: 0, from: '3', to: '5' }], 'a partition with nothing after fromOffset is left out');
  const future = await offsetsAtTime(admin, topic, Date.now() + 3_600_000);
  assert.deepEqual(Object.fromEntries(future), { 0: '5', 1: '3' }, 'no record that new: the high watermark');
  const past = await offsetsAtTime(admin, topic, producedAt - 3_600_000);
  assert.deepEqual(Object.fromEntries(past), { 0: '0', 1: '0' });
});

test('readRanges reads exactly the ranges, stops early when asked, and leaves no group behind', async () => {
  const whole = await read(await rangesToEnd(admin, topic));
  assert.equal(whole.n, 8);
  assert.deepEqual(whole.got, ['0@0=p0-0', '0@1=p0-1', '0@2=p0-2', '0@3=p0-3', '0@4=p0-4', '1@0=p1-0', '1@1=p1-1', '1@2=p1-2']);
  const part = await read([
    { partition: 0, from: '1', to: '3' },
    { partition: 1, from: '2', to: '3' },
    { partition: 1, from: '2', to: '2' },
  ]);
  assert.deepEqual(part.got, ['0@1=p0-1', '0@2=p0-2', '1@2=p1-2']);
  const limited = await read([{ partition: 0, from: '0', to: '5' }], 2);
  assert.deepEqual(limited.got, ['0@0=p0-0', '0@1=p0-1']);
  assert.deepEqual(await read([]), { n: 0, got: [] });
  const groups = (await admin.listGroups()).groups.map((g) => g.groupId);
  assert.equal(groups.filter((g) => g.startsWith('range-test-range-')).length, 0);
});

test('readRanges rejects with a retriable KAFKA_READ_TIMEOUT when a range cannot be completed', async () => {
  await assert.rejects(
    readRanges({ kafka, admin, topic, ranges: [{ partition: 1, from: '0', to: '10' }], groupPrefix: 'range-test', timeoutMs: 3000, onMessage: () => {} }),
    (err: unknown) => isAuditstreamError(err) && err.code === 'KAFKA_READ_TIMEOUT' && err.retriable,
  );
});

test('readRanges rejects with the error onMessage throws (a data error), not with a timeout', async () => {
  const bad = new AuditstreamError('EVENTS_INVALID', 'a record the handler rejects', { retriable: false });
  await assert.rejects(
    readRanges({
      kafka,
      admin,
      topic,
      ranges: [{ partition: 0, from: '0', to: '5' }],
      groupPrefix: 'range-test',
      timeoutMs: 120_000,
      onMessage: () => {
        throw bad;
      },
    }),
    (err: unknown) => err === bad,
  );
});

test('committedOffsets lists only partitions with a commit; withAdmin disconnects its client', async () => {
  const group = uniqueName('range-test-committed');
  assert.deepEqual(await withAdmin(kafka, (a) => committedOffsets(a, group, topic)), new Map());
  await admin.setOffsets({ groupId: group, topic, partitions: [{ partition: 1, offset: '2' }] });
  assert.deepEqual(await withAdmin(kafka, (a) => committedOffsets(a, group, topic)), new Map([[1, '2']]));
  await admin.deleteGroups([group]);
});
