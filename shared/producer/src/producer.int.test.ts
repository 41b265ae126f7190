// Integration: the SDK against the real broker (127.0.0.1:9092 or AUDITSTREAM_KAFKA__BROKERS). No mocks.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { AuditstreamError, uniqueName, uuidv7 } from '@auditstream/core';
import { createKafkaClient, deleteTopics, ensureTopics } from '@auditstream/kafka';
import avro from 'avsc';
import type { Kafka } from 'kafkajs';
import { createAuditProducer, type PublishReceipt } from './index.js';
import type { PublishInput } from './validate.js';

const brokers = (process.env.AUDITSTREAM_KAFKA__BROKERS ?? '127.0.0.1:9092').split(',');
const AVSC = new URL('../../schemas/audit_event.avsc', import.meta.url);

// Deliberately independent of @auditstream/codec: the .avsc file, avsc, and a local CRC-64-AVRO.
function crc64(text: string): Buffer {
  const EMPTY = 0xc15d213aa4d7a795n;
  const table = Array.from({ length: 256 }, (_, i) => {
    let fp = BigInt(i);
    for (let j = 0; j < 8; j++) fp = (fp >> 1n) ^ (EMPTY & -(fp & 1n) & 0xffffffffffffffffn);
    return fp;
  });
  let fp = EMPTY;
  for (const b of Buffer.from(text, 'utf8')) fp = (fp >> 8n) ^ (table[Number((fp ^ BigInt(b)) & 0xffn)] as bigint);
  const out = Buffer.alloc(8);
  out.writeBigUInt64LE(fp);
  return out;
}

async function setup(t: { after: (fn: () => Promise<void>) => void }, partitions: number) {
  const kafka = createKafkaClient({ brokers, client_id: 'test' }, { component: 'producer-int' });
  const topic = uniqueName('it_events');
  await ensureTopics(kafka, { topics: [{ name: topic, partitions, replicationFactor: 1 }] });
  const admin = kafka.admin();
  await admin.connect();
  t.after(async () => {
    try {
      await deleteTopics(kafka, [topic]);
    } finally {
      await admin.disconnect();
    }
  });
  return { kafka, topic, admin };
}

async function readAll(kafka: Kafka, topic: string, expected: number): Promise<Array<{ partition: number; offset: string; key: string; value: Buffer }>> {
  const consumer = kafka.consumer({ groupId: uniqueName('it_reader') });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const out: Array<{ partition: number; offset: string; key: string; value: Buffer }> = [];
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

async function endOffsets(admin: ReturnType<Kafka['admin']>, topic: string): Promise<string> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets
    .sort((a, b) => a.partition - b.partition)
    .map((o) => `${o.partition}:${o.high}`)
    .join(',');
}

function event(i: number, baseUs: number): PublishInput & { event_id: string; occurred_at: number } {
  return {
    event_id: uuidv7(Math.floor(baseUs / 1000) + i),
    occurred_at: baseUs + i * 7 + 1, // odd microseconds: precision must survive
    tenant_id: `tenant-${i % 5}`,
    actor: {
      id: `user-${i % 97}`,
      type: i % 10 === 0 ? 'service' : 'user',
      ip: `10.0.${i % 256}.${(i * 7) % 256}`,
      name: i % 3 === 0 ? `User ${i}` : null,
      session_id: i % 2 ? `s-${i}` : null,
      user_agent: null,
    },
    action: ['auth.login', 'document.read', 'user.role.grant', 'setting.update'][i % 4] as string,
    category: (['authentication', 'resource_access', 'authorization', 'configuration'] as const)[i % 4] as 'authentication',
    outcome: (['success', 'failure', 'denied', 'error'] as const)[i % 4] as 'success',
    reason: i % 4 === 1 ? 'invalid_password' : null,
    service: 'it',
    host: 'host-1',
    region: null,
    resource: i % 2 === 0 ? { type: 'document', id: `doc-${i}`, name: null } : null,
    request_id: `req-${i}`,
    trace_id: null,
    severity: (['info', 'low', 'medium', 'high', 'critical'] as const)[i % 5] as 'info',
    attributes: { i: String(i), ünïcode: 'välue ✓' },
  };
}

test('10,000 events round-trip: raw bytes decode with only the .avsc, and every receipt names the real partition/offset', async (t) => {
  const { kafka, topic, admin } = await setup(t, 6);
  const producer = createAuditProducer({ kafka, topic, linger_ms: 5 });
  const N = 10_000;
  const baseUs = Date.now() * 1000 - 60_000_000;
  const sent = Array.from({ length: N }, (_, i) => event(i, baseUs));
  const receipts: PublishReceipt[] = await Promise.all(sent.map((e) => producer.publish(e)));
  const report = await producer.close();
  assert.equal(report.undelivered, 0);
  assert.equal(
    (await endOffsets(admin, topic)).split(',').reduce((s, p) => s + Number(p.split(':')[1]), 0),
    N,
  );

  const schema = JSON.parse(readFileSync(AVSC, 'utf8'));
  const type = avro.Type.forSchema(schema);
  const fingerprint = crc64(JSON.stringify(type.schema())); // avsc's schema() is the Parsing Canonical Form
  const raw = await readAll(kafka, topic, N);
  assert.equal(raw.length, N);

  // publish() was called in index order: the SDK numbered them 0..N-1 under its id.
  const byId = new Map(sent.map((e, i) => [e.event_id, { ...e, producer_id: producer.producer_id, producer_seq: i }]));
  const at = new Map<string, string>();
  for (const m of raw) {
    assert.deepEqual([...m.value.subarray(0, 2)], [0xc3, 0x01], 'single-object marker');
    assert.ok(m.value.subarray(2, 10).equals(fingerprint), 'fingerprint of audit_event.avsc');
    const decoded = JSON.parse(JSON.stringify(type.fromBuffer(m.value.subarray(10))));
    const original = byId.get(decoded.event_id);
    assert.ok(original, 'decoded an event that was published');
    assert.deepEqual(decoded, original);
    assert.equal(m.key, `${original.tenant_id}:${original.actor.id}`);
    at.set(`${m.partition}/${m.offset}`, decoded.event_id);
    if (Number(m.offset) % 997 === 0) {
      const r = receipts.find((x) => x.event_id === decoded.event_id);
      assert.equal(r?.content_hash, createHash('sha256').update(m.value.subarray(10)).digest('hex'));
    }
  }
  for (const [i, r] of receipts.entries()) {
    assert.equal(r.event_id, sent[i]?.event_id);
    assert.equal(r.topic, topic);
    assert.equal(at.get(`${r.partition}/${r.offset}`), r.event_id, `receipt ${i} (${r.partition}/${r.offset})`);
  }
  assert.ok(new Set(receipts.map((r) => r.partition)).size === 6, 'keys spread over every partition');
});

test('invalid events are rejected naming the field, and nothing reaches the topic', async (t) => {
  const { kafka, topic, admin } = await setup(t, 2);
  const producer = createAuditProducer({ kafka, topic, max_event_bytes: 16 * 1024 });
  t.after(async () => {
    await producer.close();
  });
  await producer.publish(event(0, Date.now() * 1000));
  await producer.flush();
  const before = await endOffsets(admin, topic);
  const good = event(1, Date.now() * 1000);
  const cases: Array<[string, unknown, string, string]> = [
    ['missing actor', { ...good, actor: undefined }, 'actor', 'EVENT_INVALID'],
    ['bad action', { ...good, action: 'Login' }, 'action', 'EVENT_INVALID'],
    ['bad enum', { ...good, outcome: 'maybe' }, 'outcome', 'EVENT_INVALID'],
    ['bad actor type', { ...good, actor: { id: 'u', type: 'robot' } }, 'actor.type', 'EVENT_INVALID'],
    ['oversize', { ...good, attributes: { blob: 'x'.repeat(20_000) } }, 'event', 'EVENT_TOO_LARGE'],
  ];
  for (const [label, input, field, code] of cases) {
    await assert.rejects(
      producer.publish(input as PublishInput),
      (e: unknown) => e instanceof AuditstreamError && e.code === code && e.field === field && e.message.includes(field),
      label,
    );
  }
  await producer.flush();
  assert.equal(await endOffsets(admin, topic), before, 'end offsets unchanged');
});

test('an unreachable broker: publish rejects within delivery_timeout_ms and close() returns at once', async () => {
  // Not the "broker goes down mid-stream" test (that one needs `auditstream stack` to stop
  // and restart the broker): a real kafkajs client pointed at a port nobody listens on.
  const kafka = createKafkaClient({ brokers: ['127.0.0.1:1'], client_id: 'test', connection_timeout_ms: 300 }, { component: 'producer-int-down' });
  const producer = createAuditProducer({ kafka, topic: uniqueName('nowhere'), delivery_timeout_ms: 1500 });
  const t0 = Date.now();
  const results = await Promise.allSettled([producer.publish(event(0, Date.now() * 1000)), producer.publish(event(1, Date.now() * 1000))]);
  const elapsed = Date.now() - t0;
  assert.ok(elapsed >= 1400 && elapsed < 5000, `settled after ${elapsed} ms`);
  for (const r of results) {
    assert.equal(r.status, 'rejected');
    const e = (r as PromiseRejectedResult).reason as AuditstreamError;
    assert.equal(e.code, 'PRODUCER_DELIVERY_TIMEOUT');
    assert.equal(e.retriable, true);
    assert.equal(e.details?.maybe_delivered, false);
  }
  const t1 = Date.now();
  assert.deepEqual(await producer.close({ timeout_ms: 1000 }), { undelivered: 0, undelivered_event_ids: [] });
  assert.ok(Date.now() - t1 < 2000);
});
