// The HTTP collector against the SDK, same machine, same run, same offered pattern: `concurrency`
// closed loops, each sending `batch` events and waiting for every outcome before the next batch,
// `events` events per side, in halves ordered SDK, collector, collector, SDK. SDK side: publish()
// of each event in this process (a producer with the API's settings); collector side: POST
// /v1/events (JSON) to a real `auditstream api` child with a service key, whose own SDK producer
// publishes them. Both to the run's events topic, acks=all. Latency is per event, from the send of
// its batch (publish() call / request start) to its outcome (its receipt / the answer), so a
// batch's events share the HTTP round trip.
import { createApiKey } from '@auditstream/api';
import { AuditstreamError } from '@auditstream/core';
import { createAuditProducer } from '@auditstream/producer';
import { sampleInput } from '@auditstream/workload';
import type { RunEnv } from '../env.js';
import { type ServiceChild, spawnService } from '../procs.js';
import { percentile, perSecond } from '../stats.js';

export interface CollectorResult {
  collector_events_per_s: number;
  collector_p50_ms: number;
  collector_p99_ms: number;
  collector_sdk_events_per_s: number;
  collector_sdk_p50_ms: number;
  collector_sdk_p99_ms: number;
  /** Collector events/s over the SDK's (within the run). */
  collector_over_sdk: number;
  /** Collector p99 over the SDK's p99 (within the run). */
  collector_p99_over_sdk: number;
}

export interface CollectorOptions {
  events: number;
  batch: number;
  concurrency: number;
  startTimeoutMs: number;
  track: (c: ServiceChild) => void;
}

/** Runs `concurrency` loops of `send(first, count)` over events [from, from + events); returns the elapsed ms. */
async function closedLoops(
  opts: Pick<CollectorOptions, 'batch' | 'concurrency'>,
  from: number,
  events: number,
  send: (first: number, count: number) => Promise<void>,
): Promise<number> {
  let next = from;
  const end = from + events;
  const t0 = performance.now();
  const loop = async () => {
    while (next < end) {
      const first = next;
      const count = Math.min(opts.batch, end - first);
      next += count;
      await send(first, count);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, loop));
  return performance.now() - t0;
}

export async function runCollector(env: RunEnv, opts: CollectorOptions): Promise<{ result: CollectorResult; child: ServiceChild }> {
  const tenant = `${env.tenant}_col`;
  const child = spawnService('api', env.serviceEnv);
  opts.track(child);
  const producer = createAuditProducer({ kafka: env.kafka, topic: env.topics.events, linger_ms: 5 });
  try {
    const m = await child.waitForLog(/"url":"(http:\/\/[^"]+)"[^\n]*query API listening/, opts.startTimeoutMs);
    const endpoint = `${m[1] as string}/v1/events`;
    const key = (await createApiKey(env.ch, { role: 'service', tenants: [tenant] })).key;
    const events = (first: number, count: number) => Array.from({ length: count }, (_, k) => sampleInput(tenant, first + k));

    // SDK: each event's own publish() → receipt latency.
    const sdk = { ms: 0, latencies: [] as number[] };
    const publish = async (first: number, count: number) => {
      await Promise.all(
        events(first, count).map((e) => {
          const t = performance.now();
          return producer.publish(e).then(() => sdk.latencies.push(performance.now() - t));
        }),
      );
    };
    // Collector: the HTTP answer, once per batch, is each of its events' outcome.
    const col = { ms: 0, latencies: [] as number[] };
    const post = async (first: number, count: number) => {
      const t = performance.now();
      const res = await fetch(endpoint, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify(events(first, count)),
      });
      const text = await res.text();
      const accepted = res.status === 200 ? (JSON.parse(text) as { accepted: number }).accepted : -1;
      if (accepted !== count)
        throw new AuditstreamError('BENCH_COLLECTOR', `POST /v1/events answered ${res.status} with ${accepted} of ${count} accepted: ${text.slice(0, 300)}`);
      const ms = performance.now() - t;
      for (let i = 0; i < count; i++) col.latencies.push(ms);
    };
    // Warm-up of both sides (connections, metadata), not measured.
    await producer.connect();
    await publish(0, opts.batch);
    await post(opts.batch, opts.batch);
    sdk.latencies.length = 0;
    col.latencies.length = 0;
    // Halves in the order SDK, collector, collector, SDK: a load change on this shared machine
    // that drifts through the section weighs on both sides alike.
    const half = Math.ceil(opts.events / 2);
    const base = 2 * opts.batch;
    sdk.ms += await closedLoops(opts, base, half, publish);
    col.ms += await closedLoops(opts, base + half, half, post);
    col.ms += await closedLoops(opts, base + 2 * half, opts.events - half, post);
    sdk.ms += await closedLoops(opts, base + 3 * half, opts.events - half, publish);

    const sdkPerS = perSecond(opts.events, sdk.ms);
    const colPerS = perSecond(opts.events, col.ms);
    const sdkP99 = percentile(sdk.latencies, 99);
    const colP99 = percentile(col.latencies, 99);
    return {
      result: {
        collector_events_per_s: colPerS,
        collector_p50_ms: percentile(col.latencies, 50),
        collector_p99_ms: colP99,
        collector_sdk_events_per_s: sdkPerS,
        collector_sdk_p50_ms: percentile(sdk.latencies, 50),
        collector_sdk_p99_ms: sdkP99,
        collector_over_sdk: colPerS / sdkPerS,
        collector_p99_over_sdk: colP99 / sdkP99,
      },
      child,
    };
  } catch (err) {
    await child.stop(5000);
    throw err;
  } finally {
    await producer.close().catch(() => {});
  }
}
