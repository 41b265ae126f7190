/**
 * Ingest benchmark against the real local stack (Kafka + ClickHouse):
 *   node --import tsx services/ingest/bench/bench.ts [--events 200000] [--rate 2000] [--seconds 20]
 *
 * 1. Sustained throughput: a backlog of --events SDK events is published first, then the real
 *    `auditstream ingest` (a child process, default config) drains it; events/s is measured
 *    between the first and the last row becoming queryable.
 * 2. Publish → queryable latency: with ingest caught up, events are published at --rate per
 *    second for --seconds; ClickHouse is polled every 50 ms and each event's latency is the time
 *    from its publish() call to the first poll that sees it. Run once with the default
 *    batch_max_age_ms (1000) and once with 250.
 * Results are printed and written to bench-ingest.json.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { sleep } from '@auditstream/core';
import { createAuditProducer } from '@auditstream/producer';
import { countStored, createTestEnv, publishEvents, sampleInput, scrape, spawnIngest, waitFor } from '@auditstream/test';

const { values } = parseArgs({ options: { events: { type: 'string' }, rate: { type: 'string' }, seconds: { type: 'string' } } });
const EVENTS = Number(values.events ?? 200_000);
const RATE = Number(values.rate ?? 2000);
const SECONDS = Number(values.seconds ?? 20);
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};

async function throughput() {
  const env = await createTestEnv({ partitions: 6 });
  try {
    const t0 = Date.now();
    await publishEvents(env.kafka, env.topic, env.tenant, EVENTS);
    const publishMs = Date.now() - t0;
    const child = spawnIngest(env.env);
    try {
      const url = await child.metricsUrl().catch(() => '');
      const first = await waitFor(
        'first rows',
        () => countStored(env.ch, env.tenant),
        (n) => n > 0,
        120_000,
        50,
      );
      const t1 = Date.now();
      await waitFor(
        'all rows',
        () => countStored(env.ch, env.tenant),
        (n) => n >= EVENTS,
        600_000,
        100,
      );
      const t2 = Date.now();
      const cpu = url ? await scrape(url, 'auditstream_process_cpu_seconds_total') : Number.NaN;
      const inserts = url ? await scrape(url, 'auditstream_ingest_batch_rows_count') : Number.NaN;
      const insertSeconds = url ? await scrape(url, 'auditstream_ingest_insert_duration_seconds_sum') : Number.NaN;
      const peakRss = child.peakRss();
      child.proc.kill('SIGTERM');
      await child.exited;
      return {
        events: EVENTS,
        sdk_publish_events_per_s: Math.round(EVENTS / (publishMs / 1000)),
        ingest_events_per_s: Math.round((EVENTS - first) / ((t2 - t1) / 1000)),
        drain_seconds: (t2 - t1) / 1000,
        inserts,
        mean_rows_per_insert: Math.round(EVENTS / inserts),
        insert_seconds_total: Number(insertSeconds.toFixed(2)),
        ingest_cpu_seconds: Number(cpu.toFixed(2)),
        ingest_peak_rss_mib: Math.round(peakRss / 2 ** 20),
      };
    } finally {
      child.proc.kill('SIGKILL');
    }
  } finally {
    await env.cleanup();
  }
}

async function latency(ageMs: number) {
  const env = await createTestEnv({ partitions: 6 });
  const child = spawnIngest({ ...env.env, AUDITSTREAM_INGEST__BATCH_MAX_AGE_MS: String(ageMs) });
  const producer = createAuditProducer({ kafka: env.kafka, topic: env.topic, linger_ms: 5 });
  try {
    await child.metricsUrl();
    await producer.connect();
    await publishEvents(env.kafka, env.topic, env.tenant, 100); // warm-up: group joined, connections open
    await waitFor(
      'warm-up stored',
      () => countStored(env.ch, env.tenant),
      (n) => n >= 100,
      60_000,
      100,
    );
    const published = new Map<string, number>();
    const seenAt = new Map<string, number>();
    let polling = true;
    const poller = (async () => {
      while (polling || seenAt.size < published.size) {
        const since = Math.floor(Date.now() / 1000) - 6;
        const rows = await env.ch.queryRows<{ event_id: string }>(
          `SELECT event_id FROM ${env.database}.events WHERE tenant_id = '${env.tenant}' AND occurred_at >= toDateTime(${since})`,
        );
        const now = Date.now();
        for (const r of rows) if (!seenAt.has(r.event_id) && published.has(r.event_id)) seenAt.set(r.event_id, now);
        if (!polling && Date.now() > stopAt + 30_000) break;
        await sleep(50);
      }
    })();
    let stopAt = Number.POSITIVE_INFINITY;
    const start = Date.now();
    const total = RATE * SECONDS;
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < total; i++) {
      const due = start + (i * 1000) / RATE;
      const wait = due - Date.now();
      if (wait > 1) await sleep(wait);
      const e = sampleInput(env.tenant, 1000 + i);
      published.set(e.event_id, Date.now());
      sends.push(producer.publish(e));
    }
    await Promise.all(sends);
    stopAt = Date.now();
    polling = false;
    await poller;
    const lat = [...published].filter(([id]) => seenAt.has(id)).map(([id, t]) => (seenAt.get(id) as number) - t);
    return {
      batch_max_age_ms: ageMs,
      rate_per_s: RATE,
      seconds: SECONDS,
      published: published.size,
      queryable: lat.length,
      p50_ms: pct(lat, 50),
      p90_ms: pct(lat, 90),
      p99_ms: pct(lat, 99),
      max_ms: Math.max(...lat),
    };
  } finally {
    await producer.close().catch(() => {});
    child.proc.kill('SIGTERM');
    await Promise.race([child.exited, sleep(20_000)]);
    child.proc.kill('SIGKILL');
    await env.cleanup();
  }
}

const results = { at: new Date().toISOString(), throughput: await throughput(), latency: [await latency(1000), await latency(250)] };
console.log(JSON.stringify(results, null, 2));
writeFileSync('bench-ingest.json', `${JSON.stringify(results, null, 2)}\n`);
