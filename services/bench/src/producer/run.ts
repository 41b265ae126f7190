// The producer benchmark as a library: SDK publish() throughput against raw kafkajs sendBatch of
// the same encoded bytes, client CPU per event, and publish latency. publish.bench.ts is its CLI;
// `auditstream bench` calls runProducerBench() too.
//
// Method (README.md beside this file):
// - raw: kafkajs sendBatch of `batch` pre-encoded messages at a time (the SDK's own encoding of the
//   same events, same string keys), awaited one after the other, with the producer settings the
//   SDK uses (idempotent, acks=-1, one request in flight) and kafkajs's DefaultPartitioner.
// - sdk: publish() of every event (validation, UUIDv7, Avro encoding, batching into requests of at
//   most `batch` events, one promise per event, the SHA-256 content hash), at most `window`
//   publishes outstanding, all receipts awaited.
// - each round runs both on fresh topics, raw and SDK in alternating order (so drift and the
//   other work on the machine hit both); figures are medians over rounds, the ratio is the median
//   of the per-round SDK/raw ratios, and every round is returned so the spread can be seen.
// - publish latency: SDK publish() → receipt at a steady `rate` for `paced_seconds`, not saturated.
import { createCodec } from '@auditstream/codec';
import { AuditstreamError, isRetriable, retry, uniqueName, uuidv7 } from '@auditstream/core';
import { createKafkaClient, deleteTopics, ensureTopics } from '@auditstream/kafka';
import { createAuditProducer, createEventNormalizer, type PublishInput } from '@auditstream/producer';
import { type Kafka, type Message, Partitioners } from 'kafkajs';
import { Registry } from 'prom-client';

export interface ProducerBenchOptions {
  /** Bootstrap brokers, host:port. The benchmark creates and deletes its own topics there. */
  brokers: string[];
  /** Events per measured run (each side, each round). */
  events: number;
  /** Measured rounds (each one raw run and one SDK run). Use at least 5 on a shared machine. */
  rounds: number;
  /** Publish rate of the latency run, events per second. */
  rate: number;
  /** Events per produce request, both sides (raw sendBatch size; SDK max_batch_events). Default 1000. */
  batch?: number;
  /** Partitions of the benchmark topics. Default 6. */
  partitions?: number;
  /** Most SDK publishes outstanding at once (an application's concurrency). Default 10000. */
  window?: number;
  /**
   * Time every n-th publish of the saturated SDK runs (sdk_saturated_p50/p99_ms). Timing one
   * needs a closure and a promise per publish, which the raw side does not pay; 1 times them
   * all (what the benchmark did before this option existed). Default 16.
   */
  latency_sample_every?: number;
  /** Events carry their own event_id (isolates the cost of generating UUIDv7s). Default false. */
  ids?: boolean;
  /** SDK option content_hash. Default true. */
  content_hash?: boolean;
  /** Duration of the latency run, seconds (0 skips it: latencies are NaN). Default 5. */
  paced_seconds?: number;
  /** Events of the unreported warm-up run of each side. Default min(events, 20000). */
  warmup_events?: number;
  /** Prefix of the topics the benchmark creates (uniqueName: `<prefix>_<time>_<random>`). Default 'bench'. */
  topic_prefix?: string;
  /** Run one side only (for a CPU profile); the other side's figures and the ratio are NaN. */
  only?: 'sdk' | 'raw';
  /** Stops the benchmark between batches; it then rejects with BENCH_ABORTED after cleaning up. */
  signal?: AbortSignal;
  /** Progress lines (one per round, plus a header). */
  log?: (line: string) => void;
}

export interface ProducerBenchRound {
  raw_events_per_s: number;
  sdk_events_per_s: number;
  /** sdk_events_per_s / raw_events_per_s of this round. */
  ratio: number;
  raw_cpu_us_per_event: number;
  sdk_cpu_us_per_event: number;
  /** publish() → receipt of the saturated SDK run (not what an application at a steady rate sees). */
  sdk_saturated_p50_ms: number;
  sdk_saturated_p99_ms: number;
  /** Average events per produce request of the SDK run. */
  sdk_events_per_request: number;
  /** Which side ran first in this round. */
  first: 'raw' | 'sdk';
}

export interface ProducerBenchResult {
  /** Median over rounds. */
  sdk_events_per_s: number;
  raw_events_per_s: number;
  /** Median of the per-round SDK/raw ratios. */
  ratio: number;
  /** Smallest and largest per-round ratio (the spread). */
  ratio_min: number;
  ratio_max: number;
  /** Client process CPU (user + system) per event, microseconds; medians over rounds. */
  sdk_cpu_us_per_event: number;
  raw_cpu_us_per_event: number;
  /** raw_cpu_us_per_event / sdk_cpu_us_per_event: the ratio if the client CPU were the only limit. */
  cpu_ratio: number;
  /** publish() → receipt at a steady `rate` (the latency run). */
  publish_p50_ms: number;
  publish_p99_ms: number;
  publish_max_ms: number;
  /** Events measured by the latency run. */
  paced_events: number;
  rounds: ProducerBenchRound[];
  events: number;
  batch: number;
  partitions: number;
  avg_value_bytes: number;
  content_hash: boolean;
  window: number;
  latency_sample_every: number;
  node: string;
}

function invalid(field: string, what: string): AuditstreamError {
  return new AuditstreamError('BENCH_INVALID', `producer benchmark option ${field} ${what}`, { field });
}

function positiveInt(field: string, v: unknown, min = 1): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw invalid(field, `must be an integer ≥ ${min}`);
  return v;
}

/** The options with defaults applied; throws BENCH_INVALID naming the first bad option. */
function checkOptions(o: ProducerBenchOptions) {
  if (!Array.isArray(o.brokers) || o.brokers.length === 0 || o.brokers.some((b) => typeof b !== 'string' || !/^[^:\s]+:\d+$/.test(b))) {
    throw invalid('brokers', 'must be a non-empty list of host:port');
  }
  const events = positiveInt('events', o.events);
  const rounds = positiveInt('rounds', o.rounds);
  if (typeof o.rate !== 'number' || !Number.isFinite(o.rate) || o.rate <= 0) throw invalid('rate', 'must be a number > 0 (events per second)');
  const batch = positiveInt('batch', o.batch ?? 1000);
  const partitions = positiveInt('partitions', o.partitions ?? 6);
  const window = positiveInt('window', o.window ?? 10_000);
  const latencySampleEvery = positiveInt('latency_sample_every', o.latency_sample_every ?? 16);
  const pacedSeconds = o.paced_seconds ?? 5;
  if (typeof pacedSeconds !== 'number' || !Number.isFinite(pacedSeconds) || pacedSeconds < 0) throw invalid('paced_seconds', 'must be a number ≥ 0');
  const warmup = positiveInt('warmup_events', o.warmup_events ?? Math.min(events, 20_000), 0);
  const prefix = o.topic_prefix ?? 'bench';
  if (typeof prefix !== 'string' || !/^[a-zA-Z0-9_]{1,100}$/.test(prefix)) throw invalid('topic_prefix', 'must be 1–100 characters of [a-zA-Z0-9_]');
  if (o.only !== undefined && o.only !== 'sdk' && o.only !== 'raw') throw invalid('only', "must be 'sdk' or 'raw' when set");
  return {
    brokers: o.brokers,
    events,
    rounds,
    rate: o.rate,
    batch,
    partitions,
    window,
    latencySampleEvery,
    pacedSeconds,
    warmup,
    ids: o.ids === true,
    contentHash: o.content_hash !== false,
    only: o.only,
    prefix,
    signal: o.signal,
    log: o.log ?? (() => {}),
  };
}

const ACTIONS = ['auth.login', 'document.read', 'user.role.grant', 'setting.update', 'report.export'];
const CATEGORIES = ['authentication', 'resource_access', 'authorization', 'configuration', 'data_export'] as const;

/** The i-th benchmark event: realistic field sizes (~234 bytes encoded), varied keys. */
export function benchEvent(i: number, withId = false): PublishInput {
  return {
    ...(withId ? { event_id: uuidv7() } : {}),
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

function pct(sorted: ArrayLike<number>, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

function median(xs: number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

function abortError(): AuditstreamError {
  return new AuditstreamError('BENCH_ABORTED', 'producer benchmark aborted (signal)');
}

interface SideRun {
  rate: number;
  /** Client process CPU (user + system) per event, microseconds. */
  cpu_us: number;
}

interface SdkRun extends SideRun {
  p50: number;
  p99: number;
  batches: number;
}

/** Runs the benchmark; every topic it creates is deleted again, also on error or abort. */
export async function runProducerBench(options: ProducerBenchOptions): Promise<ProducerBenchResult> {
  const o = checkOptions(options);
  const signal = o.signal;
  const checkAbort = () => {
    if (signal?.aborted) throw abortError();
  };
  checkAbort();
  const kafka: Kafka = createKafkaClient({ brokers: o.brokers, client_id: 'bench' }, { component: 'bench' });

  async function withTopic<T>(fn: (topic: string) => Promise<T>): Promise<T> {
    const topic = uniqueName(o.prefix);
    try {
      // A busy broker sometimes answers a CreateTopics with UNKNOWN_TOPIC_OR_PARTITION; ensureTopics
      // is idempotent, so asking again is safe. Inside the try: an abort during a retry may leave
      // the topic created, and the cleanup must still find it.
      await retry(() => ensureTopics(kafka, { topics: [{ name: topic, partitions: o.partitions, replicationFactor: 1 }] }), {
        max_attempts: 4,
        initial_delay_ms: 200,
        shouldRetry: (err) => isRetriable(err) || (err instanceof AuditstreamError && err.code === 'TOPIC_CREATE_FAILED'),
        ...(signal ? { signal } : {}),
      });
      return await fn(topic);
    } finally {
      await deleteTopics(kafka, [topic]).catch((err: unknown) =>
        o.log(`warning: benchmark topic ${topic} not deleted: ${err instanceof Error ? err.message : String(err)}`),
      );
    }
  }

  async function raw(messages: Message[]): Promise<SideRun> {
    return withTopic(async (topic) => {
      const producer = kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        createPartitioner: Partitioners.DefaultPartitioner,
        allowAutoTopicCreation: false,
      });
      await producer.connect();
      try {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        for (let i = 0; i < messages.length; i += o.batch) {
          checkAbort();
          await producer.sendBatch({ topicMessages: [{ topic, messages: messages.slice(i, i + o.batch) }], acks: -1 });
        }
        const s = (performance.now() - t0) / 1000;
        const c = process.cpuUsage(c0);
        return { rate: messages.length / s, cpu_us: (c.user + c.system) / messages.length };
      } finally {
        await producer.disconnect();
      }
    });
  }

  async function sdk(inputs: PublishInput[]): Promise<SdkRun> {
    return withTopic(async (topic) => {
      const metrics = new Registry();
      const producer = createAuditProducer({
        kafka,
        topic,
        metrics,
        max_batch_events: o.batch,
        linger_ms: 5,
        max_block_ms: 60_000,
        delivery_timeout_ms: 120_000,
        content_hash: o.contentHash,
      });
      try {
        await producer.connect();
        const every = o.latencySampleEvery;
        const lat = new Float64Array(Math.ceil(inputs.length / every));
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        // The outstanding publishes, a ring of `window` slots: settled ones are let go, like an application would.
        const ring: Array<Promise<unknown> | undefined> = new Array(o.window);
        let failed: unknown;
        const onError = (err: unknown) => {
          failed ??= err;
        };
        const sampled = (i: number, s: number) => () => {
          lat[i / every] = performance.now() - s;
        };
        // Like an application with bounded concurrency: at most `window` publishes outstanding,
        // every publish awaited (through a handler, so a failure is never an unhandled rejection).
        for (let i = 0; i < inputs.length; i++) {
          const slot = i % o.window;
          if (i >= o.window) await ring[slot];
          if ((i & 1023) === 0) checkAbort();
          if (failed) break;
          // Per-event latency needs a closure per publish, which costs the SDK side CPU and heap
          // the raw side does not pay: only every `every`-th publish is timed.
          ring[slot] =
            i % every === 0
              ? producer.publish(inputs[i] as PublishInput).then(sampled(i, performance.now()), onError)
              : producer.publish(inputs[i] as PublishInput).then(undefined, onError);
        }
        await Promise.all(ring);
        if (failed) throw new AuditstreamError('BENCH_FAILED', `a publish failed during the benchmark: ${(failed as Error).message}`, { cause: failed });
        const secs = (performance.now() - t0) / 1000;
        const c = process.cpuUsage(c0);
        const line = (await metrics.getSingleMetricAsString('auditstream_producer_batches_total')).split('\n').pop();
        lat.sort();
        return {
          batches: Number(line?.split(' ')[1]),
          rate: inputs.length / secs,
          cpu_us: (c.user + c.system) / inputs.length,
          p50: pct(lat, 50),
          p99: pct(lat, 99),
        };
      } finally {
        await producer.close();
      }
    });
  }

  /** Latency at a steady, sub-saturation rate: what an application sees per publish. */
  async function paced(inputs: PublishInput[]): Promise<{ p50: number; p99: number; max: number; n: number }> {
    return withTopic(async (topic) => {
      const producer = createAuditProducer({ kafka, topic, linger_ms: 5 });
      try {
        await producer.connect();
        const lat: number[] = [];
        const pending: Promise<unknown>[] = [];
        let failed: unknown;
        const onError = (err: unknown) => {
          failed ??= err;
        };
        const start = performance.now();
        let sent = 0;
        while (performance.now() - start < o.pacedSeconds * 1000) {
          checkAbort();
          const due = Math.floor(((performance.now() - start) / 1000) * o.rate);
          for (; sent < due; sent++) {
            const s = performance.now();
            pending.push(producer.publish(inputs[sent % inputs.length] as PublishInput).then(() => lat.push(performance.now() - s), onError));
          }
          await new Promise((r) => setTimeout(r, 1));
        }
        await Promise.all(pending);
        if (failed) throw new AuditstreamError('BENCH_FAILED', `a publish failed during the latency run: ${(failed as Error).message}`, { cause: failed });
        lat.sort((a, b) => a - b);
        return { p50: pct(lat, 50), p99: pct(lat, 99), max: lat[lat.length - 1] ?? Number.NaN, n: lat.length };
      } finally {
        await producer.close();
      }
    });
  }

  const inputs = Array.from({ length: o.events }, (_, i) => benchEvent(i, o.ids));
  // Raw sends the SDK's own encoding of the same events, with the SDK's key.
  const codec = createCodec();
  const normalize = createEventNormalizer();
  const now = Date.now();
  const encoded: Message[] = inputs.map((e) => {
    const ev = normalize(e, now);
    return { key: `${ev.tenant_id}:${ev.actor.id}`, value: codec.encodeSync(ev) };
  });
  const avgBytes = encoded.reduce((s, m) => s + (m.value as Buffer).length, 0) / encoded.length;
  o.log(
    `events=${o.events} rounds=${o.rounds} batch=${o.batch} partitions=${o.partitions} avg_value_bytes=${avgBytes.toFixed(0)} ` +
      `content_hash=${o.contentHash} window=${o.window} latency_sample_every=${o.latencySampleEvery} node=${process.version}`,
  );
  const runRaw = o.only !== 'sdk';
  const runSdk = o.only !== 'raw';

  // Warm-up (JIT, connections, metadata paths), not reported.
  if (o.warmup > 0) {
    if (runRaw) await raw(encoded.slice(0, o.warmup));
    if (runSdk) await sdk(inputs.slice(0, o.warmup));
  }

  const rounds: ProducerBenchRound[] = [];
  for (let r = 0; r < o.rounds; r++) {
    checkAbort();
    const first: 'raw' | 'sdk' = r % 2 === 0 ? 'raw' : 'sdk';
    let a: SideRun | undefined;
    let b: SdkRun | undefined;
    if (first === 'raw' && runRaw) a = await raw(encoded);
    if (runSdk) b = await sdk(inputs);
    if (first === 'sdk' && runRaw) a = await raw(encoded);
    const round: ProducerBenchRound = {
      raw_events_per_s: a?.rate ?? Number.NaN,
      sdk_events_per_s: b?.rate ?? Number.NaN,
      ratio: a && b ? b.rate / a.rate : Number.NaN,
      raw_cpu_us_per_event: a?.cpu_us ?? Number.NaN,
      sdk_cpu_us_per_event: b?.cpu_us ?? Number.NaN,
      sdk_saturated_p50_ms: b?.p50 ?? Number.NaN,
      sdk_saturated_p99_ms: b?.p99 ?? Number.NaN,
      sdk_events_per_request: b ? o.events / b.batches : Number.NaN,
      first,
    };
    rounds.push(round);
    o.log(
      `round ${r + 1}/${o.rounds} (${first} first): ` +
        (a ? `raw ${a.rate.toFixed(0)} ev/s ${a.cpu_us.toFixed(1)} µs CPU/event` : 'raw skipped') +
        (b
          ? `, sdk ${b.rate.toFixed(0)} ev/s ${b.cpu_us.toFixed(1)} µs CPU/event (saturated p50 ${b.p50.toFixed(0)} ms, p99 ${b.p99.toFixed(0)} ms; ` +
            `${round.sdk_events_per_request.toFixed(0)} events/request)`
          : ', sdk skipped') +
        (a && b ? `, ratio ${round.ratio.toFixed(2)}x` : ''),
    );
  }

  const lat = o.pacedSeconds > 0 && runSdk ? await paced(inputs) : { p50: Number.NaN, p99: Number.NaN, max: Number.NaN, n: 0 };
  const ratios = rounds.map((r) => r.ratio);
  const rawCpu = median(rounds.map((r) => r.raw_cpu_us_per_event));
  const sdkCpu = median(rounds.map((r) => r.sdk_cpu_us_per_event));
  return {
    sdk_events_per_s: median(rounds.map((r) => r.sdk_events_per_s)),
    raw_events_per_s: median(rounds.map((r) => r.raw_events_per_s)),
    ratio: median(ratios),
    ratio_min: Math.min(...ratios),
    ratio_max: Math.max(...ratios),
    sdk_cpu_us_per_event: sdkCpu,
    raw_cpu_us_per_event: rawCpu,
    cpu_ratio: rawCpu / sdkCpu,
    publish_p50_ms: lat.p50,
    publish_p99_ms: lat.p99,
    publish_max_ms: lat.max,
    paced_events: lat.n,
    rounds,
    events: o.events,
    batch: o.batch,
    partitions: o.partitions,
    avg_value_bytes: avgBytes,
    content_hash: o.contentHash,
    window: o.window,
    latency_sample_every: o.latencySampleEvery,
    node: process.version,
  };
}
