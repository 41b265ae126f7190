// Publish → queryable latency at a fixed offered load, with the ingest child running and caught up.
// Events are published through the SDK at `rate` per second for `seconds` under their own tenant;
// ClickHouse is polled every `pollMs` for that tenant's event ids, and an event's latency is the
// time from its publish() call to the first poll that returned it. Resolution: pollMs plus the
// duration of one poll query (recorded as latency_poll_ms).
import { sleep } from '@auditstream/core';
import { createAuditProducer } from '@auditstream/producer';
import { sampleInput } from '@auditstream/workload';
import type { RunEnv } from '../env.js';
import { percentile } from '../stats.js';

export interface LatencyResult {
  latency_rate_per_s: number;
  latency_p50_ms: number;
  latency_p95_ms: number;
  latency_p99_ms: number;
  latency_published: number;
  latency_queryable: number;
  /** Mean time between two polls of ClickHouse (the measurement's resolution). */
  latency_poll_ms: number;
}

export async function runLatency(env: RunEnv, opts: { rate: number; seconds: number; pollMs: number; settleMs: number }): Promise<LatencyResult> {
  const tenant = `${env.tenant}_lat`;
  const producer = createAuditProducer({ kafka: env.kafka, topic: env.topics.events, linger_ms: 5 });
  await producer.connect();
  const published = new Map<string, number>();
  const seenAt = new Map<string, number>();
  let stopAt = Number.POSITIVE_INFINITY;
  let polls = 0;
  let pollStart = 0;
  const poller = (async () => {
    pollStart = Date.now();
    while (Date.now() < stopAt + opts.settleMs && (stopAt === Number.POSITIVE_INFINITY || seenAt.size < published.size)) {
      const since = Math.floor(Date.now() / 1000) - Math.ceil(opts.seconds) - 30;
      const rows = await env.ch.queryRows<{ event_id: string }>(
        `SELECT event_id FROM ${env.database}.events WHERE tenant_id = '${tenant}' AND occurred_at >= toDateTime(${since})`,
      );
      const now = Date.now();
      polls++;
      for (const r of rows) if (!seenAt.has(r.event_id) && published.has(r.event_id)) seenAt.set(r.event_id, now);
      await sleep(opts.pollMs);
    }
  })();
  try {
    const total = Math.max(1, Math.round(opts.rate * opts.seconds));
    const start = Date.now();
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < total; i++) {
      const wait = start + (i * 1000) / opts.rate - Date.now();
      if (wait > 1) await sleep(wait);
      const e = sampleInput(tenant, i);
      published.set(e.event_id, Date.now());
      sends.push(producer.publish(e));
    }
    await Promise.all(sends);
    stopAt = Date.now();
    await poller;
  } finally {
    stopAt = Math.min(stopAt, Date.now());
    await producer.close().catch(() => {});
  }
  const lat = [...published].filter(([id]) => seenAt.has(id)).map(([id, t]) => (seenAt.get(id) as number) - t);
  return {
    latency_rate_per_s: opts.rate,
    latency_p50_ms: percentile(lat, 50),
    latency_p95_ms: percentile(lat, 95),
    latency_p99_ms: percentile(lat, 99),
    latency_published: published.size,
    latency_queryable: lat.length,
    latency_poll_ms: polls ? (Date.now() - pollStart) / polls : Number.NaN,
  };
}

/** The second latency run's ingest batch_max_age_ms (the first runs with the default, 1000). */
export const SHORT_BATCH_AGE_MS = 250;

/** The second run's figures, named `latency_age250_*` beside the first run's. */
export function shortAgeFigures(r: LatencyResult): Record<string, number> {
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k.replace(/^latency_/, `latency_age${SHORT_BATCH_AGE_MS}_`), v]));
}
