// Smoke run of `auditstream bench` against the running stack, through the real CLI: it completes,
// prints every row of the table with finite, positive figures, and writes the JSON report.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '@auditstream/core';
import { queryTableRows, tableRows } from './report.js';

test('auditstream bench --events 20000 --runs 1 prints every row with plausible figures and writes the JSON', { timeout: 300_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'bench.json');
  const bin = join(repoRoot(), 'services', 'cli', 'bin', 'auditstream.js');
  const args = [
    'bench',
    '--events',
    '20000',
    '--runs',
    '1',
    '--latency-seconds',
    '4',
    '--alert-seconds',
    '4',
    '--query-reps',
    '5',
    '--producer-events',
    '10000',
    '--out',
    out,
  ];
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += String(d);
  });
  child.stderr.on('data', (d) => {
    stderr += String(d);
  });
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  assert.equal(code, 0, `${stdout}\n${stderr.slice(-3000)}`);

  const report = JSON.parse(readFileSync(out, 'utf8'));
  assert.equal(report.events, 20000);
  assert.equal(report.runs, 1);
  assert.ok(report.machine.cpus > 0 && report.machine.memory_bytes > 0);
  assert.match(report.machine.clickhouse_version, /^\d+\.\d+/);
  assert.match(report.machine.kafka_version, /^\d+\.\d+/);

  // Every row of the table (labels from the report module, values from stdout) is printed, and
  // every number in it is finite and > 0 ("n/a" marks a figure that was not measured).
  const labels = tableRows(report.median).map(([section, figure]) => [section, figure.replace(/ at [\d,]+ events\/s| \(background [\d,]+ events\/s\)/, '')]);
  assert.equal(labels.length, 36);
  const lines = stdout.split('\n');
  for (const [section, figure] of labels) {
    const line = lines.find((l) => l.startsWith(section as string) && l.includes(figure as string));
    assert.ok(line, `row "${section} / ${figure}" missing from:\n${stdout}`);
    // The outage section runs only with --outage-seconds (it pauses the shared ClickHouse server).
    if (/second backlog|stored once/.test(figure as string)) {
      assert.match(line, /n\/a/, `the outage rows are not measured without --outage-seconds: ${line}`);
      continue;
    }
    assert.doesNotMatch(line, /n\/a/, `row not measured: ${line}`);
    const value = line.slice(line.lastIndexOf('  ') + 2);
    const numbers = [...value.matchAll(/[\d,]+(?:\.\d+)?/g)].map((m) => Number(m[0].replace(/,/g, '')));
    assert.ok(numbers.length > 0, `no figure in: ${line}`);
    if ((figure as string).startsWith('ingest wall time per event by stage')) {
      // A stage can round to 0.0 µs (no dead letters here); the INSERT and processing never do.
      assert.equal(numbers.length, 7, line);
      assert.ok(numbers.every((n) => Number.isFinite(n) && n >= 0) && (numbers[0] as number) > 0 && (numbers[3] as number) > 0, line);
      continue;
    }
    for (const n of numbers) assert.ok(Number.isFinite(n) && n > 0, `implausible figure ${n} in: ${line}`);
  }
  for (const k of [
    'ingest_events_per_s',
    'kafka_read_events_per_s',
    'clickhouse_write_events_per_s',
    'anchor_events_per_s',
    'ingest_over_min_limit',
    'ingest_over_anchor',
  ]) {
    assert.ok(Number.isFinite(report.median[k]) && report.median[k] > 0, `${k} = ${report.median[k]}`);
  }
  assert.equal(report.median.latency_queryable, report.median.latency_published, 'every latency event became queryable');
  assert.equal(
    report.median.latency_wait1000_queryable,
    report.median.latency_wait1000_published,
    'every latency event became queryable at fetch_max_wait_ms 1000',
  );
  assert.ok(report.median.alert_received > 0, 'alerts came back');
});

test(
  'auditstream bench --only query loads N events straight into ClickHouse and prints the five queries, insert cost and disk',
  { timeout: 300_000 },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-query-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const out = join(dir, 'bench.json');
    const bin = join(repoRoot(), 'services', 'cli', 'bin', 'auditstream.js');
    const child = spawn(process.execPath, [bin, 'bench', '--only', 'query', '--events', '20000', '--runs', '1', '--query-reps', '3', '--out', out], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    t.after(() => child.kill('SIGKILL'));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += String(d);
    });
    child.stderr.on('data', (d) => {
      stderr += String(d);
    });
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    assert.equal(code, 0, `${stdout}\n${stderr.slice(-3000)}`);
    const report = JSON.parse(readFileSync(out, 'utf8'));
    assert.equal(report.only, 'query');
    const m = report.median;
    assert.equal(m.load_rows, 20020, '20,000 events and one re-delivered copy per 1,000');
    for (const name of ['by_actor', 'by_resource', 'range_action', 'top_actors', 'timeseries_hourly']) {
      assert.ok(m[`query_${name}_p99_ms`] > 0 && m[`query_${name}_p99_ms`] >= m[`query_${name}_p50_ms`], name);
    }
    for (const k of [
      'load_rows_per_s',
      'load_baseline_rows_per_s',
      'disk_total_bytes',
      'disk_baseline_total_bytes',
      'disk_events_bytes',
      'disk_events_hourly_bytes',
    ]) {
      assert.ok(Number.isFinite(m[k]) && m[k] > 0, `${k} = ${m[k]}`);
    }
    assert.ok(m.disk_baseline_total_bytes < m.disk_total_bytes, 'the baseline has no rollup');
    const lines = stdout.split('\n');
    for (const row of queryTableRows(m))
      assert.ok(
        lines.some((l) => l.startsWith(row[0]) && l.includes(row[1]) && !l.includes('n/a')),
        `${row[1]} in:\n${stdout}`,
      );
  },
);
