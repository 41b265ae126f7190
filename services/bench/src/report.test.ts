import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ingestTableRows, medians, queryTableRows, tableRows, withRatios } from './report.js';
import { median, percentile } from './stats.js';

test('percentile is nearest-rank and median ignores non-finite values', () => {
  const xs = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(percentile(xs, 50), 50);
  assert.equal(percentile(xs, 99), 99);
  assert.equal(percentile(xs, 100), 100);
  assert.ok(Number.isNaN(percentile([], 50)));
  assert.equal(median([3, Number.NaN, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
});

test('ratios within each run, then medians per figure over runs', () => {
  const m = medians(
    [
      { ingest_events_per_s: 10, kafka_read_events_per_s: 100, clickhouse_write_events_per_s: 40, anchor_events_per_s: 5 },
      { ingest_events_per_s: 20, kafka_read_events_per_s: 80, clickhouse_write_events_per_s: 50, anchor_events_per_s: 10 },
      { ingest_events_per_s: 30, kafka_read_events_per_s: 90, clickhouse_write_events_per_s: 60, anchor_events_per_s: 20 },
    ].map(withRatios),
  );
  assert.equal(m.ingest_events_per_s, 20);
  // per run: 10/40, 20/50, 30/60 → median 0.4; anchor: 2, 2, 1.5 → median 2
  assert.equal(m.ingest_over_min_limit, 20 / 50);
  assert.equal(m.ingest_over_anchor, 2);
});

test('a figure that was not measured shows as n/a, never as 0', () => {
  const rows = tableRows({ ingest_events_per_s: 1234.4 });
  assert.ok(rows.some(([, f, v]) => f.startsWith('pipeline (ingest start') && v === '1,234 events/s'));
  assert.ok(rows.some(([, f, v]) => f.startsWith('ClickHouse Kafka engine') && v === 'n/a events/s'));
});

test('--only query: the five queries, the insert cost side by side and the disk use per table', () => {
  const rows = queryTableRows({
    query_by_actor_p50_ms: 12,
    query_by_actor_p99_ms: 30.25,
    load_rows: 5_005_000,
    load_insert_seconds: 50,
    load_rows_per_s: 100_100,
    load_baseline_insert_seconds: 40,
    load_baseline_rows_per_s: 125_125,
    load_insert_cost_ratio: 1.25,
    disk_total_bytes: 2 * 2 ** 20,
    disk_baseline_total_bytes: 2 ** 20,
    disk_events_bytes: 2 ** 20,
    disk_events_hourly_bytes: 51_200,
  });
  assert.deepEqual(
    rows.filter(([s]) => s === 'query').map(([, f]) => f.split(' p50')[0]),
    ['events by actor', 'events by resource', 'time range + action', 'top-10 actors', 'hourly time series'],
  );
  assert.ok(rows.some(([, f, v]) => f === 'events by actor p50 / p99' && v === '12.0 ms / 30.3 ms'));
  assert.ok(rows.some(([, f, v]) => f === 'insert time full / without 011/012/014' && v === '1.25×'));
  assert.ok(rows.some(([, f, v]) => f === 'all tables, full schema / without 011/012/014' && v === '2.0 MiB / 1.0 MiB'));
  assert.deepEqual(
    rows.filter(([s]) => s === 'disk').map(([, f]) => f),
    ['all tables, full schema / without 011/012/014', 'events', 'events_hourly'],
  );
});

test('--only ingest: the drain against the limits and the Kafka engine, the ratios, CPU per event and the servers', () => {
  const rows = ingestTableRows({
    ingest_events_per_s: 40_000,
    anchor_events_per_s: 50_000,
    ingest_over_anchor: 0.8,
    ingest_cpu_us_per_event: 21.26,
    ingest_stage_process_us_per_event: 20.71,
    ingest_stage_insert_us_per_event: 39.5,
    ingest_peak_rss_bytes: 300 * 2 ** 20,
    ingest_cpu_s: 4.2,
    ingest_drain_peak_rss_bytes: 280 * 2 ** 20,
    outage_events: 200_000,
    outage_pause_s: 30,
    outage_memory_budget_bytes: 512 * 2 ** 20,
    outage_ingest_peak_rss_bytes: 410 * 2 ** 20,
    outage_stored_events: 200_000,
  });
  assert.deepEqual([...new Set(rows.map(([s]) => s))], ['ingest', 'anchor', 'memory', 'resources']);
  assert.ok(rows.some(([, f, v]) => f === 'ingest peak RSS over the drain of the N' && v === '280 MiB'));
  assert.ok(rows.some(([, f, v]) => f === 'ingest peak RSS, second backlog of 200,000 with a 30 s ClickHouse pause (budget 512 MiB)' && v === '410 MiB'));
  assert.ok(rows.some(([, f, v]) => f === 'events of that backlog stored once at the end' && v === '200,000 of 200,000'));
  assert.ok(rows.some(([, f, v]) => f === 'ours / Kafka engine' && v === '0.80×'));
  assert.ok(rows.some(([, f, v]) => f.startsWith('ingest CPU per stored event') && v === '21.3 µs'));
  assert.ok(
    rows.some(
      ([, f, v]) =>
        f.startsWith('ingest wall time per event by stage (process · row_mapping · chain · insert') && v === '20.7 · n/a · n/a · 39.5 · n/a · n/a · n/a µs',
    ),
    'a stage the run did not measure shows as n/a',
  );
  assert.ok(rows.some(([, f, v]) => f === 'ingest: peak RSS / CPU' && v === '300 MiB / 4.2 s'));
  assert.ok(!rows.some(([, f]) => /^(alerting|api|bench):/.test(f)));
  assert.ok(!rows.some(([s]) => s === 'query' || s === 'producer' || s === 'latency'));
});
