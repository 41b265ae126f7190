// Integration: the SDK against a PRIVATE stack (its own Kafka, ClickHouse and Apicurio Registry on
// 297xx/287xx ports, in a temp state folder), because these tests stop the broker. The shared
// stack on 9092/8123 is never touched. No mocks.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { createCodec } from '@auditstream/codec';
import { AuditstreamError, uniqueName, uuidv7 } from '@auditstream/core';
import { createKafkaClient, ensureTopics } from '@auditstream/kafka';
import { createStack, type Stack } from '@auditstream/stack';
import type { Kafka } from 'kafkajs';
import { Registry } from 'prom-client';
import { createAuditProducer, type PublishInput, type PublishReceipt } from './index.js';

const PORTS = { kafkaPort: 29792, kafkaControllerPort: 29793, clickhouseHttpPort: 28723, clickhouseTcpPort: 29700, registryPort: 28781 };
const BROKER = `127.0.0.1:${PORTS.kafkaPort}`;
const REGISTRY_URL = `http://127.0.0.1:${PORTS.registryPort}/apis/ccompat/v7`;

let stack: Stack;
let stateDir: string;
let kafka: Kafka;

before(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'auditstream-producer-'));
  stack = createStack({ stateDir, ...PORTS, withRegistry: true, stopGraceMs: 10_000 });
  await stack.up();
  kafka = createKafkaClient(
    { brokers: [BROKER], client_id: 'test', connection_timeout_ms: 1000, request_timeout_ms: 5000 },
    { component: 'producer-broker-down' },
  );
});

after(async () => {
  await stack?.down().catch(() => {});
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

/** Stops the private broker the hard way: SIGKILL to the pid `stack.status()` reports. Returns the pid. */
export async function killKafka(s: Stack, signal: NodeJS.Signals = 'SIGKILL'): Promise<number> {
  const kafkaStatus = (await s.status()).find((c) => c.name === 'kafka');
  assert.ok(kafkaStatus?.pid, 'the private Kafka is running');
  process.kill(kafkaStatus.pid, signal);
  for (let i = 0; i < 100 && (await s.status()).find((c) => c.name === 'kafka')?.running; i++) await delay(100);
  return kafkaStatus.pid;
}

async function createTopic(partitions: number): Promise<string> {
  const topic = uniqueName('it_down');
  await ensureTopics(kafka, { topics: [{ name: topic, partitions, replicationFactor: 1 }] });
  return topic;
}

interface Stored {
  partition: number;
  offset: string;
  key: string;
  value: Buffer;
}

/** Every message of the topic, read to the end offsets. */
async function readTopic(topic: string): Promise<Stored[]> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const expected = ends.reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
  const out: Stored[] = [];
  if (expected === 0) return out;
  const consumer = kafka.consumer({ groupId: uniqueName('it_reader') });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`read ${out.length} of ${expected} messages in 60 s`)), 60_000);
    consumer
      .run({
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) out.push({ partition: batch.partition, offset: m.offset, key: String(m.key), value: m.value as Buffer });
          if (out.length >= expected) {
            clearTimeout(timer);
            resolve();
          }
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  return out;
}

function event(i: number): PublishInput & { event_id: string } {
  return {
    event_id: uuidv7(),
    tenant_id: `tenant-${i % 7}`,
    actor: { id: `user-${i % 101}`, type: 'user', ip: '10.0.0.1' },
    action: 'document.read',
    category: 'resource_access',
    outcome: 'success',
    service: 'it-broker-down',
    resource: { type: 'document', id: `doc-${i}` },
    attributes: { i: String(i) },
  };
}

interface Outcome {
  i: number;
  event_id: string;
  publishedAt: number;
  settledAt?: number;
  receipt?: PublishReceipt;
  error?: unknown;
}

async function scrape(metrics: Registry): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const line of (await metrics.metrics()).split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

test('broker killed mid-stream, then restarted: every publish resolves with a real receipt or rejects with a typed error, in bounded time', async () => {
  const topic = await createTopic(3);
  const metrics = new Registry();
  const DELIVERY_TIMEOUT_MS = 6000;
  const producer = createAuditProducer({
    kafka,
    topic,
    metrics,
    linger_ms: 5,
    max_batch_events: 200,
    max_buffer_events: 1500,
    max_block_ms: 1000,
    delivery_timeout_ms: DELIVERY_TIMEOUT_MS,
    retry_initial_delay_ms: 100,
    retry_max_delay_ms: 1000,
  });
  const outcomes: Outcome[] = [];
  const settling: Promise<void>[] = [];
  let stop = false;
  let n = 0;
  // ~1,000 events/s, each with its own event_id, every outcome recorded with its time.
  const publisher = (async () => {
    while (!stop) {
      for (let k = 0; k < 5; k++) {
        const e = event(n);
        const o: Outcome = { i: n++, event_id: e.event_id, publishedAt: Date.now() };
        outcomes.push(o);
        settling.push(
          producer.publish(e).then(
            (r) => {
              o.settledAt = Date.now();
              o.receipt = r;
            },
            (err: unknown) => {
              o.settledAt = Date.now();
              o.error = err;
            },
          ),
        );
      }
      await delay(5);
    }
  })();

  await delay(2000);
  const beforeKill = n;
  await killKafka(stack);
  const killedAt = Date.now();
  await delay(DELIVERY_TIMEOUT_MS + 2000); // long enough for timeouts and a full buffer
  const restartFrom = n;
  const restartAt = Date.now();
  await stack.up(); // restarts only Kafka
  const upAt = Date.now();
  // Keep publishing until events published after the restart are acknowledged again.
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && !outcomes.some((o) => o.i >= restartFrom && o.receipt && o.publishedAt >= upAt)) await delay(200);
  await delay(1000);
  stop = true;
  await publisher;

  // None hangs: all settle within delivery_timeout_ms of their publish() call (plus timer slack).
  const bound = delay(DELIVERY_TIMEOUT_MS + 5000).then(() => 'timeout');
  assert.notEqual(await Promise.race([Promise.all(settling).then(() => 'settled'), bound]), 'timeout', 'some publishes never settled');
  for (const o of outcomes) {
    assert.ok(o.settledAt !== undefined, `event ${o.i} settled`);
    assert.ok(o.settledAt - o.publishedAt <= DELIVERY_TIMEOUT_MS + 1500, `event ${o.i} settled after ${o.settledAt - o.publishedAt} ms`);
  }

  // Typed errors only.
  const byCode = new Map<string, number>();
  for (const o of outcomes) {
    if (!o.error) continue;
    assert.ok(o.error instanceof AuditstreamError, `event ${o.i} rejected with an AuditstreamError`);
    assert.ok(['PRODUCER_DELIVERY_TIMEOUT', 'PRODUCER_BUFFER_FULL', 'PRODUCER_SEND_FAILED'].includes(o.error.code), `event ${o.i}: ${o.error.code}`);
    if (o.error.code !== 'PRODUCER_SEND_FAILED') assert.equal(o.error.retriable, true);
    if (o.error.code === 'PRODUCER_DELIVERY_TIMEOUT') {
      assert.match(
        o.error.message,
        /; (last error: |still connecting|a produce request has been waiting \d+ ms)/,
        'a timeout says what the producer was waiting on',
      );
    }
    byCode.set(o.error.code, (byCode.get(o.error.code) ?? 0) + 1);
  }
  const ok = outcomes.filter((o) => o.receipt);
  const failed = outcomes.filter((o) => o.error);
  assert.equal(ok.length + failed.length, outcomes.length);
  assert.ok(
    outcomes.slice(0, beforeKill).some((o) => o.receipt),
    'events were acknowledged before the kill',
  );
  assert.ok((byCode.get('PRODUCER_DELIVERY_TIMEOUT') ?? 0) > 0, 'the outage produced delivery timeouts');
  assert.ok(
    outcomes.some((o) => o.receipt && o.publishedAt >= upAt),
    'publishing works again after the restart',
  );
  const ackedWhileDown = ok.filter((o) => (o.settledAt as number) > killedAt + 200 && (o.settledAt as number) < restartAt);
  assert.deepEqual(
    ackedWhileDown.map((o) => o.i),
    [],
    'nothing was acknowledged while the broker was down',
  );

  // Every receipt is really in the topic, at its partition/offset, with that content.
  const stored = await readTopic(topic);
  const at = new Map(stored.map((m) => [`${m.partition}/${m.offset}`, m]));
  const reader = createCodec();
  const storedIds = new Map<string, number>();
  for (const m of stored) {
    const id = reader.decodeSync(m.value).event_id;
    storedIds.set(id, (storedIds.get(id) ?? 0) + 1);
  }
  for (const o of ok) {
    const r = o.receipt as PublishReceipt;
    const m = at.get(`${r.partition}/${r.offset}`);
    assert.ok(m, `receipt of event ${o.i} (${r.partition}/${r.offset}) points at a stored message`);
    const decoded = reader.decodeSync(m.value);
    assert.equal(decoded.event_id, o.event_id);
    assert.equal(r.event_id, o.event_id);
    assert.equal(m.key, `${decoded.tenant_id}:${decoded.actor.id}`);
    assert.equal(r.content_hash, createHash('sha256').update(m.value.subarray(10)).digest('hex'));
  }
  assert.equal(new Set(ok.map((o) => `${o.receipt?.partition}/${o.receipt?.offset}`)).size, ok.length, 'no two receipts share an offset');
  // Rejected events: never-sent ones and buffer-full ones are not in the topic; "maybe delivered" ones may be.
  for (const o of failed) {
    const e = o.error as AuditstreamError;
    if (e.code === 'PRODUCER_BUFFER_FULL' || e.details?.maybe_delivered === false) {
      assert.equal(storedIds.get(o.event_id), undefined, `event ${o.i} (${e.code}, never sent) is not in the topic`);
    }
  }
  const dup = [...storedIds].filter(([, c]) => c > 1);
  assert.deepEqual(dup, [], 'the idempotent producer wrote no event twice');
  const maybe = failed.filter((o) => (o.error as AuditstreamError).details?.maybe_delivered === true);
  const landedAnyway = maybe.filter((o) => storedIds.has(o.event_id)).length;

  // stats() and the metrics agree with what the test saw.
  const s = producer.stats();
  assert.equal(s.published_total, ok.length);
  assert.equal(s.failed_total, failed.length);
  assert.equal(s.buffered_events, 0);
  assert.equal(s.buffered_bytes, 0);
  const m = await scrape(metrics);
  assert.equal(m.get('auditstream_producer_published_events_total'), ok.length);
  assert.equal(m.get('auditstream_producer_publish_duration_seconds_count'), ok.length);
  for (const [code, count] of byCode) assert.equal(m.get(`auditstream_producer_failed_events_total{error_type="${code}"}`), count, code);
  assert.equal(m.get('auditstream_producer_buffer_events'), 0);
  const firstAckAfterKill = Math.min(...ok.filter((o) => o.publishedAt > killedAt).map((o) => o.settledAt as number));
  // And a fresh publish after all that is acknowledged.
  const last = await producer.publish(event(n));
  assert.ok(Number(last.offset) >= 0);
  assert.deepEqual(await producer.close({ timeout_ms: 5000 }), { undelivered: 0, undelivered_event_ids: [] });
  console.log(
    `broker-down: ${outcomes.length} published, ${ok.length} acknowledged, ${[...byCode].map(([c, k]) => `${k} ${c}`).join(', ')}; ` +
      `${maybe.length} timed out after being sent, ${landedAnyway} of those landed anyway; ${stored.length} messages in the topic; ` +
      `Kafka killed at 0 s, restart at ${((restartAt - killedAt) / 1000).toFixed(1)} s, answering at ${((upAt - killedAt) / 1000).toFixed(1)} s, ` +
      `first acknowledgement after the kill at ${((firstAckAfterKill - killedAt) / 1000).toFixed(1)} s; ${m.get('auditstream_producer_retries_total')} batch retries`,
  );
});

test('Confluent framing through a real Apicurio registry: the SDK registers <topic>-value, events round-trip through Kafka', async () => {
  const topic = await createTopic(2);
  const producer = createAuditProducer({ kafka, topic, registry_url: REGISTRY_URL, linger_ms: 5 });
  const sent = Array.from({ length: 50 }, (_, i) => event(i));
  const receipts = await producer.publishMany(sent);
  await producer.close();
  const res = await fetch(`${REGISTRY_URL}/subjects/${encodeURIComponent(`${topic}-value`)}/versions/latest`);
  assert.equal(res.status, 200);
  const latest = (await res.json()) as { id: number; subject: string };
  assert.equal(latest.subject, `${topic}-value`);

  const stored = await readTopic(topic);
  assert.equal(stored.length, sent.length);
  const reader = createCodec({ registryUrl: REGISTRY_URL }); // a fresh codec: it fetches the schema by id
  const at = new Map(stored.map((m) => [`${m.partition}/${m.offset}`, m]));
  for (const [i, r] of receipts.entries()) {
    const m = at.get(`${r.partition}/${r.offset}`);
    assert.ok(m, `receipt ${i} points at a stored message`);
    assert.equal(m.value[0], 0x00, 'Confluent magic byte');
    assert.equal(m.value.readUInt32BE(1), latest.id, 'the registry id of <topic>-value');
    assert.equal(r.content_hash, createHash('sha256').update(m.value.subarray(5)).digest('hex'));
    const decoded = await reader.decode(m.value);
    assert.equal(decoded.event_id, sent[i]?.event_id);
    assert.deepEqual(decoded.attributes, { i: String(i) });
  }
});
