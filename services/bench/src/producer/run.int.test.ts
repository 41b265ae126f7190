// Integration: a small runProducerBench against the real broker (127.0.0.1:9092 or AUDITSTREAM_KAFKA__BROKERS).
// Checks the result's shape and consistency (what `auditstream bench` codes against), that rounds
// alternate which side runs first, that an abort stops it cleanly, and that it leaves no topics behind.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AuditstreamError, uniqueName } from '@auditstream/core';
import { createKafkaClient } from '@auditstream/kafka';
import { runProducerBench } from './run.js';

const brokers = (process.env.AUDITSTREAM_KAFKA__BROKERS ?? '127.0.0.1:9092').split(',');

async function topicsStartingWith(prefix: string): Promise<string[]> {
  const admin = createKafkaClient({ brokers, client_id: 'test' }, { component: 'bench-int' }).admin();
  await admin.connect();
  try {
    return (await admin.listTopics()).filter((t) => t.startsWith(`${prefix}_`));
  } finally {
    await admin.disconnect();
  }
}

test('runProducerBench: two alternated rounds give positive, consistent figures and delete their topics', { timeout: 120_000 }, async () => {
  const prefix = uniqueName('benchit');
  const lines: string[] = [];
  const r = await runProducerBench({
    brokers,
    topic_prefix: prefix,
    events: 3000,
    rounds: 2,
    rate: 500,
    batch: 200,
    partitions: 3,
    paced_seconds: 1,
    warmup_events: 500,
    log: (l) => lines.push(l),
  });
  assert.equal(r.rounds.length, 2);
  assert.deepEqual(
    r.rounds.map((x) => x.first),
    ['raw', 'sdk'],
  );
  for (const x of r.rounds) {
    for (const k of ['raw_events_per_s', 'sdk_events_per_s', 'raw_cpu_us_per_event', 'sdk_cpu_us_per_event', 'sdk_saturated_p50_ms'] as const) {
      assert.ok(Number.isFinite(x[k]) && x[k] > 0, `${k} = ${x[k]}`);
    }
    assert.ok(Math.abs(x.ratio - x.sdk_events_per_s / x.raw_events_per_s) < 1e-9);
    // Requests of at most `batch` events.
    assert.ok(x.sdk_events_per_request > 1 && x.sdk_events_per_request <= 200, `events/request ${x.sdk_events_per_request}`);
  }
  const [a, b] = r.rounds as [(typeof r.rounds)[0], (typeof r.rounds)[0]];
  assert.ok(Math.abs(r.ratio - (a.ratio + b.ratio) / 2) < 1e-9, 'ratio is the median of the per-round ratios');
  assert.equal(r.ratio_min, Math.min(a.ratio, b.ratio));
  assert.equal(r.ratio_max, Math.max(a.ratio, b.ratio));
  assert.ok(Math.abs(r.sdk_events_per_s - (a.sdk_events_per_s + b.sdk_events_per_s) / 2) < 1e-6);
  assert.ok(Math.abs(r.cpu_ratio - r.raw_cpu_us_per_event / r.sdk_cpu_us_per_event) < 1e-9);
  // The latency run: ~500 events in 1 s (fewer when the machine is loaded), every one acknowledged.
  assert.ok(r.paced_events >= 250 && r.paced_events <= 520, `paced events ${r.paced_events}`);
  assert.ok(r.publish_p50_ms > 0 && r.publish_p50_ms <= r.publish_p99_ms && r.publish_p99_ms <= r.publish_max_ms);
  assert.ok(r.avg_value_bytes > 150 && r.avg_value_bytes < 400, `avg bytes ${r.avg_value_bytes}`);
  assert.equal(lines.length, 3, 'a header and one line per round');
  assert.deepEqual(await topicsStartingWith(prefix), [], 'benchmark topics are deleted');
});

test('runProducerBench: aborting mid-run rejects with BENCH_ABORTED and deletes its topics', { timeout: 120_000 }, async () => {
  const prefix = uniqueName('benchit');
  const ac = new AbortController();
  const run = runProducerBench({ brokers, topic_prefix: prefix, events: 200_000, rounds: 3, rate: 500, signal: ac.signal, warmup_events: 0 });
  setTimeout(() => ac.abort(), 1500);
  await assert.rejects(run, (err: unknown) => err instanceof AuditstreamError && err.code === 'BENCH_ABORTED');
  assert.deepEqual(await topicsStartingWith(prefix), [], 'benchmark topics are deleted');
});
