import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { createCodec, payloadBody } from '@auditstream/codec';
import { AuditstreamError, UUID_V7_RE } from '@auditstream/core';
import { Partitioners, type ProducerConfig } from 'kafkajs';
import { Registry } from 'prom-client';
import { fakeKafka, kafkaError } from './fake-kafka.test-helper.js';
import { type AuditProducerOptions, createAuditProducer } from './producer.js';
import type { PublishInput } from './validate.js';

const codec = createCodec();

function ev(i = 0, extra: Partial<PublishInput> = {}): PublishInput {
  return {
    tenant_id: `t${i % 3}`,
    actor: { id: `u-${i}`, type: 'user' },
    action: 'auth.login',
    category: 'authentication',
    outcome: 'success',
    service: 'sso',
    ...extra,
  };
}

function isCode(code: string, field?: string) {
  return (e: unknown) => e instanceof AuditstreamError && e.code === code && (field === undefined || e.field === field);
}

function producerWith(fake: ReturnType<typeof fakeKafka>, opts: Partial<AuditProducerOptions> = {}) {
  return createAuditProducer({ kafka: fake.kafka, topic: 'audit.events', linger_ms: 1, ...opts });
}

test('receipts name the partition of the key and the offset of each message, with the body hash', async () => {
  const fake = fakeKafka(4);
  // linger is counted from the first publish() call; a busy machine can spend 20 ms on the first
  // call alone (lazy set-up, JIT), which once split the 50 events into two batches.
  const producer = producerWith(fake, { linger_ms: 500 });
  const receipts = await Promise.all(Array.from({ length: 50 }, (_, i) => producer.publish(ev(i))));
  assert.equal(fake.calls, 1, 'one batch within linger_ms');
  const murmur = Partitioners.DefaultPartitioner();
  const md = Array.from({ length: 4 }, (_, i) => ({ partitionId: i, leader: 1, replicas: [], isr: [], partitionErrorCode: 0 }));
  for (const [i, r] of receipts.entries()) {
    const key = `t${i % 3}:u-${i}`;
    assert.equal(r.partition, murmur({ topic: 'audit.events', partitionMetadata: md, message: { key, value: null } }), 'default partitioner');
    const stored = fake.logs.get(r.partition)?.[Number(r.offset)];
    assert.ok(stored, `receipt ${i} points at a stored message`);
    assert.equal(stored.key, key);
    const decoded = codec.decodeSync(stored.value as Buffer);
    assert.equal(decoded.event_id, r.event_id);
    assert.match(r.event_id, UUID_V7_RE);
    assert.equal(
      r.content_hash,
      createHash('sha256')
        .update(payloadBody(stored.value as Buffer))
        .digest('hex'),
    );
  }
  await producer.close();
});

test("an answer without a partition rejects that partition's events as retriable, and the rest get receipts", async () => {
  const fake = fakeKafka(4);
  fake.behaviour = () => ({ omit: [0] });
  const producer = producerWith(fake, { linger_ms: 500 });
  const results = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => producer.publish(ev(i))));
  const rejected = results.filter((r) => r.status === 'rejected');
  assert.ok(rejected.length > 0 && rejected.length < 40, `some events hash to partition 0: ${rejected.length}`);
  for (const r of rejected) {
    const e = (r as PromiseRejectedResult).reason;
    assert.ok(e instanceof AuditstreamError);
    assert.equal(e.code, 'PRODUCER_SEND_FAILED');
    assert.equal(e.retriable, true, 'the caller may publish it again');
    assert.deepEqual(e.details, { maybe_delivered: true });
  }
  for (const r of results) if (r.status === 'fulfilled') assert.notEqual(r.value.partition, 0);
  await producer.close();
});

test('message keys are tenant_id:actor.id exactly, for ASCII, non-ASCII and long ids', async () => {
  const fake = fakeKafka(3);
  const producer = producerWith(fake);
  const ids: Array<[string, string]> = [
    ['acme', 'u-1'],
    ['a', 'b'],
    ['ténant', 'u-2'],
    ['acme', 'ユーザー'],
    ['acme', '\u{1F600}x'],
    ['t'.repeat(200), 'u'.repeat(200)],
    ['acme', 'u-3'],
  ];
  const receipts = await Promise.all(ids.map(([tenant_id, id]) => producer.publish({ ...ev(), tenant_id, actor: { id, type: 'user' } })));
  for (const [i, r] of receipts.entries()) {
    const [tenant, actor] = ids[i] as [string, string];
    const stored = fake.logs.get(r.partition)?.[Number(r.offset)];
    assert.equal(stored?.key, `${tenant}:${actor}`);
  }
  await producer.close();
});

test('batches respect max_batch_events and fill event_id and occurred_at', async () => {
  const fake = fakeKafka();
  const producer = producerWith(fake, { max_batch_events: 100, linger_ms: 50 });
  const before = Date.now() * 1000;
  const rs = await Promise.all(Array.from({ length: 250 }, (_, i) => producer.publish(ev(i))));
  assert.ok(fake.calls >= 3 && fake.calls <= 4, `calls ${fake.calls}`);
  const stored = [...fake.logs.values()].flat().map((m) => codec.decodeSync(m.value as Buffer));
  assert.equal(stored.length, 250);
  assert.ok(stored.every((e) => e.occurred_at >= before && e.occurred_at <= Date.now() * 1000));
  assert.equal(new Set(rs.map((r) => r.event_id)).size, 250);
  await producer.close();
});

test('invalid events are rejected naming the field, and nothing is sent', async () => {
  const fake = fakeKafka();
  const producer = producerWith(fake, { max_event_bytes: 2048 });
  const now = Date.now();
  const cases: Array<[string, unknown, string]> = [
    ['missing actor', { ...ev(), actor: undefined }, 'actor'],
    ['missing actor id', { ...ev(), actor: { type: 'user' } }, 'actor.id'],
    ['bad actor type', { ...ev(), actor: { id: 'u', type: 'robot' } }, 'actor.type'],
    ['bad ip', { ...ev(), actor: { id: 'u', type: 'user', ip: '999.1.1.1' } }, 'actor.ip'],
    ['unknown actor field', { ...ev(), actor: { id: 'u', type: 'user', email: 'x' } }, 'actor.email'],
    ['missing action', { ...ev(), action: undefined }, 'action'],
    ['bad action', { ...ev(), action: 'Auth.Login' }, 'action'],
    ['one-word action', { ...ev(), action: 'login' }, 'action'],
    ['bad category', { ...ev(), category: 'security' }, 'category'],
    ['bad outcome', { ...ev(), outcome: 'ok' }, 'outcome'],
    ['bad severity', { ...ev(), severity: 'urgent' }, 'severity'],
    ['missing service', { ...ev(), service: '' }, 'service'],
    ['missing tenant', { ...ev(), tenant_id: undefined }, 'tenant_id'],
    ['unknown field', { ...ev(), user: 'x' }, 'user'],
    ['resource without id', { ...ev(), resource: { type: 'doc' } }, 'resource.id'],
    ['attribute not a string', { ...ev(), attributes: { n: 1 } }, 'attributes.n'],
    ['future', { ...ev(), occurred_at: new Date(now + 3_600_000) }, 'occurred_at'],
    ['past', { ...ev(), occurred_at: new Date(now - 30 * 86_400_000) }, 'occurred_at'],
    ['milliseconds mistaken for micros', { ...ev(), occurred_at: now }, 'occurred_at'],
    ['bad timestamp string', { ...ev(), occurred_at: '2024-05-01 12:00' }, 'occurred_at'],
    ['event_id not v7', { ...ev(), event_id: '3b241101-e2bb-4255-8caf-4136c566a962' }, 'event_id'],
  ];
  for (const [label, input, field] of cases) {
    await assert.rejects(
      producer.publish(input as PublishInput),
      (e: unknown) => isCode('EVENT_INVALID', field)(e) && (e as Error).name === 'AuditEventValidationError' && !(e as AuditstreamError).retriable,
      label,
    );
  }
  await assert.rejects(producer.publish(ev(0, { attributes: { blob: 'x'.repeat(4000) } })), isCode('EVENT_TOO_LARGE', 'event'));
  await assert.rejects(producer.publish(null as never), isCode('EVENT_INVALID', 'event'));
  await producer.flush();
  assert.equal(fake.calls, 0);
  assert.equal(producer.stats().failed_total, cases.length + 2);
  await producer.close();
});

test('timestamps keep microseconds from every accepted form', async () => {
  const fake = fakeKafka(1);
  const producer = producerWith(fake);
  const us = Date.now() * 1000 - 123_457;
  const iso = new Date(Math.floor(us / 1000)).toISOString().replace('Z', `${String(us % 1000).padStart(3, '0')}Z`);
  await producer.publish(ev(0, { occurred_at: us }));
  await producer.publish(ev(1, { occurred_at: BigInt(us) }));
  await producer.publish(ev(2, { occurred_at: iso }));
  const got = (fake.logs.get(0) ?? []).map((m) => codec.decodeSync(m.value as Buffer).occurred_at);
  assert.deepEqual(got, [us, us, us]);
  await producer.close();
});

test('a full buffer blocks publish up to max_block_ms, then rejects PRODUCER_BUFFER_FULL (retriable)', async () => {
  const fake = fakeKafka();
  fake.behaviour = (call) => (call === 1 ? 'hang' : undefined);
  const producer = producerWith(fake, { max_buffer_events: 5, max_block_ms: 100, linger_ms: 0 });
  const first = Array.from({ length: 5 }, (_, i) => producer.publish(ev(i)));
  const t0 = Date.now();
  await assert.rejects(producer.publish(ev(9)), (e: unknown) => isCode('PRODUCER_BUFFER_FULL')(e) && (e as AuditstreamError).retriable);
  assert.ok(Date.now() - t0 >= 90);
  // A blocked publish proceeds once space frees.
  const waiting = producer.publish(ev(10));
  fake.release();
  await Promise.all([...first, waiting]);
  assert.equal(producer.stats().buffered_events, 0);
  await producer.close();
});

test('retriable send errors are retried with backoff until acknowledged', async () => {
  const fake = fakeKafka();
  fake.behaviour = (call) => (call <= 2 ? kafkaError('Connection error: ECONNREFUSED', { name: 'KafkaJSConnectionError' }) : undefined);
  const metrics = new Registry();
  const producer = producerWith(fake, { retry_initial_delay_ms: 5, retry_max_delay_ms: 10, metrics });
  const r = await producer.publish(ev());
  assert.equal(fake.calls, 3);
  assert.equal(r.offset, '0');
  const text = await metrics.metrics();
  assert.match(text, /auditstream_producer_retries_total 2/);
  assert.match(text, /auditstream_producer_published_events_total 1/);
  assert.match(text, /auditstream_producer_publish_duration_seconds_count 1/);
  assert.match(text, /auditstream_producer_buffer_events 0/);
  await producer.close();
});

test('a non-retriable Kafka error fails the batch at once with PRODUCER_SEND_FAILED', async () => {
  const fake = fakeKafka();
  fake.behaviour = () =>
    kafkaError('The request included a message larger than the max message size the server will accept', { type: 'MESSAGE_TOO_LARGE', retriable: false });
  const metrics = new Registry();
  const producer = producerWith(fake, { metrics });
  await assert.rejects(producer.publish(ev()), (e: unknown) => isCode('PRODUCER_SEND_FAILED')(e) && /MESSAGE_TOO_LARGE/.test((e as Error).message));
  assert.equal(fake.calls, 1);
  assert.match(await metrics.metrics(), /auditstream_producer_failed_events_total\{error_type="PRODUCER_SEND_FAILED"\} 1/);
  await producer.close();
});

test('sequence errors recreate the idempotent producer, then succeed', async () => {
  const fake = fakeKafka();
  fake.behaviour = (call) => (call === 1 ? kafkaError('out of order', { type: 'OUT_OF_ORDER_SEQUENCE_NUMBER', retriable: false }) : undefined);
  const producer = producerWith(fake, { retry_initial_delay_ms: 1 });
  await producer.publish(ev());
  assert.equal(fake.producersCreated, 2);
  await producer.close();
});

test('delivery_timeout_ms bounds a publish when the broker is down, naming the last error', async () => {
  const fake = fakeKafka();
  fake.behaviour = () => kafkaError('Connection error: connect ECONNREFUSED 127.0.0.1:9092', { name: 'KafkaJSConnectionError' });
  const producer = producerWith(fake, { delivery_timeout_ms: 300, retry_initial_delay_ms: 20, retry_max_delay_ms: 50 });
  const t0 = Date.now();
  await assert.rejects(
    producer.publish(ev()),
    (e: unknown) => isCode('PRODUCER_DELIVERY_TIMEOUT')(e) && (e as AuditstreamError).retriable && /ECONNREFUSED/.test((e as Error).message),
  );
  const elapsed = Date.now() - t0;
  assert.ok(elapsed >= 290 && elapsed < 1500, `elapsed ${elapsed}`);
  const calls = fake.calls;
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(fake.calls, calls, 'an abandoned batch is not retried further');
  fake.behaviour = () => undefined;
  await producer.publish(ev());
  assert.equal(fake.producersCreated, 2, 'and the next batch gets a new producer id');
  await producer.close();
});

test('a stalled send times out too (maybe delivered), and queued events behind it are never sent', async () => {
  const fake = fakeKafka();
  fake.behaviour = (call) => (call === 1 ? 'hang' : undefined);
  const producer = producerWith(fake, { delivery_timeout_ms: 200, max_batch_events: 1, linger_ms: 0 });
  const a = producer.publish(ev(1));
  const b = producer.publish(ev(2));
  await assert.rejects(a, (e: unknown) => isCode('PRODUCER_DELIVERY_TIMEOUT')(e) && (e as AuditstreamError).details?.maybe_delivered === true);
  await assert.rejects(b, (e: unknown) => isCode('PRODUCER_DELIVERY_TIMEOUT')(e) && (e as AuditstreamError).details?.maybe_delivered === false);
  fake.release();
  await producer.flush();
  assert.equal(fake.calls, 1);
  await producer.close();
});

test('an event that reaches delivery_timeout_ms while the producer is still connecting is never sent after all', async () => {
  const fake = fakeKafka();
  let connected = () => {};
  const connecting = new Promise<void>((resolve) => {
    connected = resolve;
  });
  const kafka = { producer: (config?: ProducerConfig) => ({ ...fake.kafka.producer(config), connect: () => connecting }) };
  const producer = createAuditProducer({ kafka, topic: 'audit.events', linger_ms: 0, delivery_timeout_ms: 50 });
  const isNeverSent = (e: unknown) => isCode('PRODUCER_DELIVERY_TIMEOUT')(e) && (e as AuditstreamError).details?.maybe_delivered === false;
  await assert.rejects(producer.publish(ev(1)), isNeverSent);
  connected();
  const receipt = await producer.publish(ev(2));
  const written = [...fake.logs.values()].flat();
  assert.deepEqual(
    written.map((m) => String(m.key)),
    ['t2:u-2'],
    'only the event published after the connection: the one rejected as never sent was not written',
  );
  assert.equal(receipt.offset, '0');
  await producer.close();
});

test('close flushes what it can, reports what it could not deliver, and refuses new events', async () => {
  const fake = fakeKafka();
  const producer = producerWith(fake, { linger_ms: 1000 });
  const ok = producer.publish(ev(1));
  const report = await producer.close();
  assert.deepEqual(report, { undelivered: 0, undelivered_event_ids: [] });
  assert.equal((await ok).offset, '0');
  await assert.rejects(producer.publish(ev()), isCode('PRODUCER_CLOSED'));

  const stuck = fakeKafka();
  stuck.behaviour = () => 'hang';
  const p2 = producerWith(stuck, { linger_ms: 0 });
  const pending = [p2.publish(ev(1)), p2.publish(ev(2))];
  const settled = Promise.allSettled(pending);
  const r2 = await p2.close({ timeout_ms: 100 });
  assert.equal(r2.undelivered, 2);
  const outcomes = await settled;
  assert.ok(outcomes.every((o) => o.status === 'rejected' && isCode('PRODUCER_CLOSED')(o.reason)));
  const ids = outcomes.map((o) => ((o as PromiseRejectedResult).reason as AuditstreamError).message);
  assert.ok(ids.length === 2);
  stuck.release();
});

test('flush waits for every earlier publish', async () => {
  const fake = fakeKafka();
  const producer = producerWith(fake, { linger_ms: 10_000 });
  let acked = 0;
  for (let i = 0; i < 10; i++) producer.publish(ev(i)).then(() => acked++);
  await producer.flush();
  await Promise.resolve();
  assert.equal(acked, 10);
  await producer.close();
});

test('publishMany validates everything first, then resolves receipts in order', async () => {
  const fake = fakeKafka();
  const producer = producerWith(fake);
  await assert.rejects(
    producer.publishMany([ev(1), { ...ev(2), outcome: 'nope' as never }]),
    (e: unknown) => isCode('EVENT_INVALID', 'outcome')(e) && /events\[1\]/.test((e as Error).message),
  );
  await producer.flush();
  assert.equal(fake.calls, 0, 'nothing sent when one event is invalid');
  const rs = await producer.publishMany([ev(1), ev(2), ev(3)]);
  assert.deepEqual(
    rs.map((r) => codec.decodeSync(fake.logs.get(r.partition)?.[Number(r.offset)]?.value as Buffer).actor.id),
    ['u-1', 'u-2', 'u-3'],
  );
  await producer.close();
});

test('with a registry-backed codec, the schema is registered once and events are Confluent-framed', async () => {
  const schemas = new Map<number, unknown>();
  let registrations = 0;
  const registry = {
    register: async (_subject: string, schema: unknown) => {
      registrations++;
      schemas.set(7, schema);
      return 7;
    },
    getSchema: async (id: number) => schemas.get(id) as never,
  };
  const fake = fakeKafka(2);
  const producer = producerWith(fake, { codec: createCodec({ registry }) });
  const [a, b] = await Promise.all([producer.publish(ev(1)), producer.publish(ev(2))]);
  assert.equal(registrations, 1);
  const stored = fake.logs.get(a.partition)?.[Number(a.offset)]?.value as Buffer;
  assert.deepEqual([...stored.subarray(0, 5)], [0, 0, 0, 0, 7]);
  assert.equal(a.content_hash, createHash('sha256').update(stored.subarray(5)).digest('hex'));
  const reader = createCodec({ registry });
  assert.equal((await reader.decode(stored)).actor.id, 'u-1');
  assert.ok(b.event_id);
  await producer.close();
});

test('publishMany: one call, partial failure — receipts and errors per event, buffer accounting back to zero', async () => {
  const fake = fakeKafka();
  fake.behaviour = (call) => (call === 1 ? 'hang' : undefined);
  const metrics = new Registry();
  const producer = producerWith(fake, { max_buffer_events: 3, max_block_ms: 50, linger_ms: 0, max_batch_events: 3, metrics });
  const many = producer.publishMany([ev(1), ev(2), ev(3), ev(4), ev(5)]);
  const outcome = many.then(
    () => assert.fail('expected a rejection'),
    (e: unknown) => e as AuditstreamError,
  );
  await new Promise((r) => setTimeout(r, 120)); // events 4 and 5 wait for space past max_block_ms
  fake.release();
  const err = await outcome;
  assert.equal(err.code, 'PRODUCER_SEND_FAILED');
  assert.equal(err.retriable, true, 'every failure was retriable');
  const results = err.details?.results as Array<{ receipt?: { offset: string }; error?: AuditstreamError }>;
  assert.equal(results.length, 5);
  assert.ok(results.slice(0, 3).every((r) => r.receipt && !r.error));
  assert.ok(results.slice(3).every((r) => r.error?.code === 'PRODUCER_BUFFER_FULL'));
  assert.match(err.message, /^2 of 5 events were not delivered/);
  const s = producer.stats();
  assert.deepEqual([s.buffered_events, s.buffered_bytes, s.published_total, s.failed_total], [0, 0, 3, 2]);
  assert.match(await metrics.metrics(), /auditstream_producer_failed_events_total\{error_type="PRODUCER_BUFFER_FULL"\} 2/);
  assert.deepEqual(await producer.publishMany([]), []);
  await producer.close();
});

test('events blocked for buffer space when close() runs are rejected PRODUCER_CLOSED and release nothing twice', async () => {
  const fake = fakeKafka();
  fake.behaviour = (call) => (call === 1 ? 'hang' : undefined);
  const producer = producerWith(fake, { max_buffer_events: 1, max_block_ms: 5000, linger_ms: 0 });
  const first = producer.publish(ev(1));
  const blocked = producer.publish(ev(2));
  const blockedMany = producer.publishMany([ev(3), ev(4)]);
  const closing = producer.close({ timeout_ms: 50 });
  await assert.rejects(blocked, isCode('PRODUCER_CLOSED'));
  await assert.rejects(blockedMany, (e: unknown) => isCode('PRODUCER_SEND_FAILED')(e) && /2 of 2/.test((e as Error).message));
  await assert.rejects(first, isCode('PRODUCER_CLOSED'));
  assert.equal((await closing).undelivered, 1);
  const s = producer.stats();
  assert.deepEqual([s.buffered_events, s.buffered_bytes, s.failed_total], [0, 0, 4]);
  fake.release();
});

test('content_hash: false leaves the hash out of receipts', async () => {
  const fake = fakeKafka();
  const producer = producerWith(fake, { content_hash: false });
  const r = await producer.publish(ev());
  assert.equal(r.content_hash, undefined);
  assert.equal('content_hash' in r, false);
  await producer.close();
});

test('delivery_timeout_ms bounds publish() from the call: time blocked for buffer space counts', async () => {
  const fake = fakeKafka();
  fake.behaviour = (call) => (call === 1 ? 'hang' : undefined);
  const producer = producerWith(fake, { max_buffer_events: 1, max_block_ms: 5000, delivery_timeout_ms: 300, linger_ms: 0 });
  const t0 = Date.now();
  const inFlight = producer.publish(ev(1));
  const blocked = producer.publish(ev(2));
  await Promise.all([
    assert.rejects(blocked, (e: unknown) => isCode('PRODUCER_BUFFER_FULL')(e) && (e as AuditstreamError).retriable),
    assert.rejects(inFlight, (e: unknown) => isCode('PRODUCER_DELIVERY_TIMEOUT')(e) && (e as AuditstreamError).details?.maybe_delivered === true),
  ]);
  const elapsed = Date.now() - t0;
  assert.ok(elapsed >= 290 && elapsed < 1500, `both settled after ${elapsed} ms, not max_block_ms`);
  fake.release();
  await producer.close();
});

test('a registry that never answers: publish and publishMany reject by delivery_timeout_ms, never sent', async () => {
  const registry = { register: () => new Promise<number>(() => {}), getSchema: () => new Promise<never>(() => {}) };
  const fake = fakeKafka();
  const producer = producerWith(fake, { codec: createCodec({ registry }), delivery_timeout_ms: 200 });
  const t0 = Date.now();
  const isNeverSent = (e: unknown) => isCode('PRODUCER_DELIVERY_TIMEOUT')(e) && (e as AuditstreamError).details?.maybe_delivered === false;
  await Promise.all([assert.rejects(producer.publish(ev(1)), isNeverSent), assert.rejects(producer.publishMany([ev(2), ev(3)]), isNeverSent)]);
  assert.ok(Date.now() - t0 < 1500);
  assert.equal(fake.calls, 0);
  assert.equal(producer.stats().failed_total, 3);
  await producer.close();
});

test('a registry that refuses: publish rejects with the codec error (unreachable stays retriable)', async () => {
  const unreachable = new AuditstreamError(
    'CODEC_REGISTRY_UNREACHABLE',
    'schema registry http://127.0.0.1:1 is unreachable (registering subject x): ECONNREFUSED',
    {
      retriable: true,
    },
  );
  const registry = { register: () => Promise.reject(unreachable), getSchema: () => Promise.reject(unreachable) };
  const producer = producerWith(fakeKafka(), { codec: createCodec({ registry }) });
  await assert.rejects(producer.publish(ev(1)), (e: unknown) => e === unreachable);
  const refused = new AuditstreamError('CODEC_REGISTRY_INCOMPATIBLE', 'rejected as incompatible');
  const p2 = producerWith(fakeKafka(), {
    codec: createCodec({ registry: { register: () => Promise.reject(refused), getSchema: () => Promise.reject(refused) } }),
  });
  await assert.rejects(p2.publish(ev(1)), (e: unknown) => isCode('PRODUCER_SEND_FAILED')(e) && (e as Error).cause === refused);
  await producer.close();
  await p2.close();
});

test('loss detection: one producer_id per instance, producer_seq 0,1,2… in publish order, kept across send retries; refused events take no number', async () => {
  const fake = fakeKafka(3);
  fake.behaviour = (call) => (call === 1 ? kafkaError('Connection error: ECONNREFUSED', { name: 'KafkaJSConnectionError' }) : undefined);
  const producer = producerWith(fake, { retry_initial_delay_ms: 5, retry_max_delay_ms: 10 });
  assert.match(producer.producer_id, UUID_V7_RE);
  await producer.publish(ev(0));
  await assert.rejects(producer.publish(ev(1, { action: 'Bad' })), isCode('EVENT_INVALID', 'action'));
  await assert.rejects(producer.publishMany([ev(2), ev(3, { action: 'Bad' })]), isCode('EVENT_INVALID', 'action'));
  await producer.publishMany([ev(4), ev(5)]);
  // Relayed numbering (the HTTP collector passing a client's own) is kept and takes none of ours.
  await producer.publish(ev(6, { producer_id: '01890f5c-3b2a-4cde-8f01-23456789abcd', producer_seq: 77 }));
  await producer.publish(ev(7));
  const stored = [...fake.logs.values()].flat().map((m) => codec.decodeSync(m.value as Buffer));
  const ours = stored.filter((e) => e.producer_id === producer.producer_id).map((e) => e.producer_seq);
  assert.deepEqual(
    ours.sort((a, b) => (a as number) - (b as number)),
    [0, 1, 2, 3],
    'the retried first batch kept 0; the refused events left no gap',
  );
  assert.deepEqual(
    stored.filter((e) => e.producer_id !== producer.producer_id).map((e) => [e.producer_id, e.producer_seq]),
    [['01890f5c-3b2a-4cde-8f01-23456789abcd', 77]],
  );
  await producer.close();
  const next = producerWith(fakeKafka(1));
  assert.notEqual(next.producer_id, producer.producer_id, 'a new instance (a restart) is a new stream');
  await next.close();
});
