// Publish → queryable latency at a fixed offered load, with the ingest child running and caught up.
// Events are published through the SDK at `rate` per second for `seconds` under their own tenant;
// ClickHouse is polled every `pollMs` for that tenant's event ids, and an event's latency is the
// time from its publish() call to the first poll that returned it. Resolution: pollMs plus the
// duration of one poll query (recorded as latency_poll_ms). A poll asks only for the events
// received since shortly before the oldest one not yet seen, so its cost stays that of the events
// in flight rather than growing with all those already found.
// Ingest's own /metrics, read before and after, say how it stored them: INSERTs, rows per INSERT
// and the mean INSERT time (the rest of an event's latency is its wait for a fetch and the poll).
import { sleep } from '@auditstream/core';
import { metricTotal, scrapePrometheus } from '@auditstream/observability';
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
  /** Ingest's INSERTs of events over the run, their mean rows and mean duration (NaN without its /metrics). */
  latency_inserts: number;
  latency_rows_per_insert: number;
  latency_insert_mean_ms: number;
}

/** Slack before the oldest unseen publish that a poll also asks for: the received_at column has whole seconds. */
const POLL_MARGIN_S = 2;

interface InsertCounters {
  inserts: number;
  rows: number;
  seconds: number;
}

/** Ingest's INSERT counters from its /metrics page (undefined when it cannot be read). */
async function insertCounters(metricsUrl: string | undefined): Promise<InsertCounters | undefined> {
  const s = metricsUrl ? await scrapePrometheus(`${metricsUrl}/metrics`) : undefined;
  if (!s) return undefined;
  const inserts = metricTotal(s, 'auditstream_ingest_insert_duration_seconds_count');
  const rows = metricTotal(s, 'auditstream_ingest_batch_rows_sum');
  const seconds = metricTotal(s, 'auditstream_ingest_insert_duration_seconds_sum');
  if (inserts === null || rows === null || seconds === null) return undefined;
  return { inserts, rows, seconds };
}

/** The base URL of an ingest child's /metrics, from its start-up log line. */
export function metricsUrlFromLog(output: string): string | undefined {
  return /"url":"(http:\/\/[^"]+)"[^\n]*serving \/metrics/.exec(output)?.[1];
}

export async function runLatency(
  env: RunEnv,
  opts: { rate: number; seconds: number; pollMs: number; settleMs: number; ingestMetricsUrl?: string | undefined },
): Promise<LatencyResult> {
  const tenant = `${env.tenant}_lat`;
  const producer = createAuditProducer({ kafka: env.kafka, topic: env.topics.events, linger_ms: 5 });
  await producer.connect();
  const before = await insertCounters(opts.ingestMetricsUrl);
  const published = new Map<string, number>();
  /** Event ids in publish order, and the index of the first one no poll has returned yet. */
  const order: string[] = [];
  let firstUnseen = 0;
  const seenAt = new Map<string, number>();
  let stopAt = Number.POSITIVE_INFINITY;
  let polls = 0;
  let pollStart = 0;
  const poller = (async () => {
    pollStart = Date.now();
    while (Date.now() < stopAt + opts.settleMs && (stopAt === Number.POSITIVE_INFINITY || seenAt.size < published.size)) {
      while (firstUnseen < order.length && seenAt.has(order[firstUnseen] as string)) firstUnseen++;
      const oldest = firstUnseen < order.length ? (published.get(order[firstUnseen] as string) as number) : Date.now();
      const since = Math.floor(oldest / 1000) - POLL_MARGIN_S;
      const occurredSince = Math.floor(Date.now() / 1000) - Math.ceil(opts.seconds) - 30;
      const rows = await env.ch.queryRows<{ event_id: string }>(
        `SELECT event_id FROM ${env.database}.events WHERE tenant_id = '${tenant}' AND occurred_at >= toDateTime(${occurredSince}) AND received_at >= toDateTime(${since})`,
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
      order.push(e.event_id);
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
  const after = await insertCounters(opts.ingestMetricsUrl);
  const inserts = before && after ? after.inserts - before.inserts : Number.NaN;
  return {
    latency_rate_per_s: opts.rate,
    latency_p50_ms: percentile(lat, 50),
    latency_p95_ms: percentile(lat, 95),
    latency_p99_ms: percentile(lat, 99),
    latency_published: published.size,
    latency_queryable: lat.length,
    latency_poll_ms: polls ? (Date.now() - pollStart) / polls : Number.NaN,
    latency_inserts: inserts,
    latency_rows_per_insert: before && after && inserts > 0 ? (after.rows - before.rows) / inserts : Number.NaN,
    latency_insert_mean_ms: before && after && inserts > 0 ? ((after.seconds - before.seconds) * 1000) / inserts : Number.NaN,
  };
}

/**
 * The second latency run's ingest fetch_max_wait_ms: the first runs with the configured wait (default
 * 250); this one shows what fewer, larger INSERTs at low traffic cost in latency.
 */
export const ALT_FETCH_WAIT_MS = 1000;

/** The second run's figures, named `latency_wait1000_*` beside the first run's. */
export function altWaitFigures(r: LatencyResult): Record<string, number> {
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k.replace(/^latency_/, `latency_wait${ALT_FETCH_WAIT_MS}_`), v]));
}
