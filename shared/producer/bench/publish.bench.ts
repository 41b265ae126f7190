// SDK publish throughput vs raw kafkajs sendBatch of the same encoded bytes, plus publish latency.
//   node --import tsx shared/producer/bench/publish.bench.ts [--events 200000] [--rounds 3] [--rate 5000] [--ids] [--only sdk|raw] [--content-hash false]
// --ids: events carry their own event_id, which isolates the cost of generating UUIDv7s.
// --content-hash false: receipts without the SHA-256 (the SDK option content_hash: false).
// --only sdk: skip the raw rounds and the paced run (for a CPU profile of the SDK alone:
//   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx shared/producer/bench/publish.bench.ts --only sdk
//   node --import tsx shared/producer/bench/cpuprofile-top.ts /tmp/prof/*.cpuprofile).
// Wall-clock throughput on a shared machine is noisy: client CPU per event is reported too.
// Needs a broker (127.0.0.1:9092 or AUDITSTREAM_KAFKA__BROKERS); creates and deletes its own topics.
import { parseArgs } from 'node:util';
import { createCodec } from '@auditstream/codec';
import { uniqueName, uuidv7 } from '@auditstream/core';
import { createKafkaClient, ensureTopics } from '@auditstream/kafka';
import { type Message, Partitioners } from 'kafkajs';
import { Registry } from 'prom-client';
import { createAuditProducer, createEventNormalizer, type PublishInput } from '../src/index.js';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '200000' },
    rounds: { type: 'string', default: '3' },
    rate: { type: 'string', default: '5000' },
    batch: { type: 'string', default: '1000' },
    partitions: { type: 'string', default: '6' },
    ids: { type: 'boolean', default: false },
    window: { type: 'string', default: '10000' },
    only: { type: 'string', default: '' },
    'content-hash': { type: 'string', default: 'true' },
  },
});
const N = Number(values.events);
const ROUNDS = Number(values.rounds);
const RATE = Number(values.rate);
const BATCH = Number(values.batch);
const PARTITIONS = Number(values.partitions);
const WINDOW = Number(values.window);
const RUN_RAW = values.only !== 'sdk';
const RUN_SDK = values.only !== 'raw';
const CONTENT_HASH = values['content-hash'] !== 'false';
const brokers = (process.env.AUDITSTREAM_KAFKA__BROKERS ?? '127.0.0.1:9092').split(',');
const kafka = createKafkaClient({ brokers, client_id: 'bench' }, { component: 'bench' });

const ACTIONS = ['auth.login', 'document.read', 'user.role.grant', 'setting.update', 'report.export'];
const CATEGORIES = ['authentication', 'resource_access', 'authorization', 'configuration', 'data_export'] as const;
function input(i: number): PublishInput {
  return {
    ...(values.ids ? { event_id: uuidv7() } : {}),
    tenant_id: `tenant-${i % 20}`,
    actor: {
      id: `user-${i % 5000}`,
      type: 'user',
      ip: `10.1.${(i >> 8) & 255}.${i & 255}`,
      session_id: `sess-${i % 9000}`,
      user_agent: 'Mozilla/5.0 (X11; Linux x86_64)',
    },
    action: ACTIONS[i % 5] as string,
    category: CATEGORIES[i % 5] as (typeof CATEGORIES)[number],
    outcome: i % 11 === 0 ? 'failure' : 'success',
    service: 'bench-app',
    host: 'bench-host-1',
    resource: i % 2 ? { type: 'document', id: `doc-${i % 100_000}` } : null,
    request_id: `req-${i}`,
    attributes: { http_method: 'GET', http_status: '200' },
  };
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function withTopic<T>(fn: (topic: string) => Promise<T>): Promise<T> {
  const topic = uniqueName('bench');
  await ensureTopics(kafka, { topics: [{ name: topic, partitions: PARTITIONS, replicationFactor: 1 }] });
  try {
    return await fn(topic);
  } finally {
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin.disconnect();
  }
}

interface Run {
  rate: number;
  /** Client process CPU (user + system) per event, microseconds. */
  cpu_us: number;
}

/**
 * Raw kafkajs: the same encoded bytes and keys, the same producer settings (idempotent, one
 * request in flight), kafkajs's own DefaultPartitioner, sequential sendBatch of BATCH messages.
 */
async function raw(encoded: Message[]): Promise<Run> {
  return withTopic(async (topic) => {
    const producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
    });
    await producer.connect();
    const messages = encoded.map((m) => ({ key: m.key, value: m.value }));
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < messages.length; i += BATCH) {
      await producer.sendBatch({ topicMessages: [{ topic, messages: messages.slice(i, i + BATCH) }], acks: -1 });
    }
    const s = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    await producer.disconnect();
    return { rate: messages.length / s, cpu_us: (c.user + c.system) / messages.length };
  });
}

/** SDK: publish() every event (validation, encoding, hashing, batching, acks=all), await all receipts. */
async function sdk(inputs: PublishInput[]): Promise<Run & { p50: number; p99: number; batches: number }> {
  return withTopic(async (topic) => {
    const metrics = new Registry();
    const producer = createAuditProducer({
      kafka,
      topic,
      metrics,
      max_batch_events: BATCH,
      linger_ms: 5,
      max_block_ms: 60_000,
      delivery_timeout_ms: 120_000,
      content_hash: CONTENT_HASH,
    });
    await producer.connect();
    const lat = new Float64Array(inputs.length);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const all: Promise<unknown>[] = new Array(inputs.length);
    // Like an application with bounded concurrency: at most WINDOW publishes outstanding.
    for (let i = 0; i < inputs.length; i++) {
      if (i >= WINDOW) await all[i - WINDOW];
      const s = performance.now();
      all[i] = producer.publish(inputs[i] as PublishInput).then(() => {
        lat[i] = performance.now() - s;
      });
    }
    await Promise.all(all);
    const secs = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    const batches = (await metrics.getSingleMetricAsString('auditstream_producer_batches_total')).split('\n').pop();
    await producer.close();
    const sorted = Array.from(lat).sort((a, b) => a - b);
    return {
      batches: Number(batches?.split(' ')[1]),
      rate: inputs.length / secs,
      cpu_us: (c.user + c.system) / inputs.length,
      p50: pct(sorted, 50),
      p99: pct(sorted, 99),
    };
  });
}

/** Latency at a steady, sub-saturation rate: what an application sees per publish. */
async function paced(inputs: PublishInput[], rate: number, seconds: number): Promise<{ p50: number; p99: number; max: number; n: number }> {
  return withTopic(async (topic) => {
    const producer = createAuditProducer({ kafka, topic, linger_ms: 5 });
    await producer.connect();
    const lat: number[] = [];
    const pending: Promise<unknown>[] = [];
    const start = performance.now();
    let sent = 0;
    while (performance.now() - start < seconds * 1000) {
      const due = Math.floor(((performance.now() - start) / 1000) * rate);
      for (; sent < due; sent++) {
        const s = performance.now();
        pending.push(producer.publish(inputs[sent % inputs.length] as PublishInput).then(() => lat.push(performance.now() - s)));
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    await Promise.all(pending);
    await producer.close();
    lat.sort((a, b) => a - b);
    return { p50: pct(lat, 50), p99: pct(lat, 99), max: lat[lat.length - 1] ?? Number.NaN, n: lat.length };
  });
}

const inputs = Array.from({ length: N }, (_, i) => input(i));
const codec = createCodec();
const normalize = createEventNormalizer();
const now = Date.now();
const encoded: Message[] = inputs.map((e) => {
  const ev = normalize(e, now);
  return { key: `${ev.tenant_id}:${ev.actor.id}`, value: codec.encodeSync(ev) };
});
const avgBytes = encoded.reduce((s, m) => s + (m.value as Buffer).length, 0) / encoded.length;
console.log(
  `events=${N} batch=${BATCH} partitions=${PARTITIONS} avg_value_bytes=${avgBytes.toFixed(0)} content_hash=${CONTENT_HASH} window=${WINDOW} node=${process.version}`,
);

// Warm-up (JIT, connections, topic metadata paths), not reported.
if (RUN_RAW) await raw(encoded.slice(0, 20_000));
if (RUN_SDK) await sdk(inputs.slice(0, 20_000));

const raws: Run[] = [];
const sdks: Array<Run & { p50: number; p99: number; batches: number }> = [];
const fmtRaw = (a: Run) => `raw ${a.rate.toFixed(0)} ev/s (${a.cpu_us.toFixed(1)} µs CPU/event)`;
const fmtSdk = (b: (typeof sdks)[number]) =>
  `sdk ${b.rate.toFixed(0)} ev/s (${b.cpu_us.toFixed(1)} µs CPU/event; ` +
  `latency when saturated p50 ${b.p50.toFixed(0)} ms, p99 ${b.p99.toFixed(0)} ms; ${(inputs.length / b.batches).toFixed(0)} events/request)`;
for (let r = 0; r < ROUNDS; r++) {
  const parts: string[] = [];
  if (RUN_RAW) {
    const a = await raw(encoded);
    raws.push(a);
    parts.push(fmtRaw(a));
  }
  if (RUN_SDK) {
    const b = await sdk(inputs);
    sdks.push(b);
    parts.push(fmtSdk(b));
  }
  console.log(`round ${r + 1}: ${parts.join(', ')}`);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
if (RUN_RAW && RUN_SDK) {
  const rawMed = median(raws.map((r) => r.rate));
  const sdkMed = median(sdks.map((s) => s.rate));
  const rawCpu = median(raws.map((r) => r.cpu_us));
  const sdkCpu = median(sdks.map((s) => s.cpu_us));
  const lat = await paced(inputs, RATE, 5);
  console.log(`\nmedian of ${ROUNDS}: raw kafkajs ${rawMed.toFixed(0)} ev/s, SDK ${sdkMed.toFixed(0)} ev/s, ratio ${(sdkMed / rawMed).toFixed(2)}x`);
  console.log(`client CPU per event: raw ${rawCpu.toFixed(1)} µs, SDK ${sdkCpu.toFixed(1)} µs (CPU-bound ratio ${(rawCpu / sdkCpu).toFixed(2)}x)`);
  console.log(
    `publish latency at ${RATE} ev/s for 5 s (${lat.n} events): p50 ${lat.p50.toFixed(2)} ms, p99 ${lat.p99.toFixed(2)} ms, max ${lat.max.toFixed(2)} ms`,
  );
}
