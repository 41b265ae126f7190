// Integration: exporting 1,000,000 events in constant memory. The API runs in a child process,
// wired by main.ts (real ClickHouse, real SDK on a topic of its own); its resident set size is
// read from /proc/<pid>/status while the export streams. The test reports peak RSS and rows/s.
// The API signs export manifests (a key of the test's own): each export's manifest must describe
// exactly the bytes streamed, and memory must stay flat with it; a second API without a manifest
// key gives the throughput ratio (reported, not asserted).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { rawEventRowCount } from '@auditstream/clickhouse';
import { uniqueName } from '@auditstream/core';
import { type ExportManifest, generateSigningKey } from '@auditstream/integrity';
import { createKafkaClient, deleteTopics, ensureTopics } from '@auditstream/kafka';
import { createApiKey } from './api-keys.js';
import { baseConfig, freshDatabase, insert, makeEvents, qs } from './int.test-helper.js';

const ROWS = Number(process.env.EXPORT_TEST_ROWS ?? 1_000_000);
const DUPLICATES = Math.floor(ROWS / 100);
const BASE_US = Date.UTC(2026, 1, 1) * 1000;
const STEP_US = 250_000; // 4 events per second: 1M events over ~2.9 days
const FROM = BASE_US;
const TO = BASE_US + Math.ceil(ROWS / 3) * STEP_US + 1;

let db: Awaited<ReturnType<typeof freshDatabase>>;
let child: ChildProcess;
let url: string;
let plain: { child: ChildProcess; url: string } | undefined;
let key: string;
const topic = uniqueName('api_it_export_audit');
const kafka = createKafkaClient(baseConfig.kafka, { component: 'api-export-int' });

function memory(pid: number): { rssKb: number; hwmKb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') };
}

before(async () => {
  db = await freshDatabase('api_it_export');
  const t0 = Date.now();
  for (let i = 0; i < ROWS; i += 100_000) {
    const chunk = makeEvents(Math.min(100_000, ROWS - i), BASE_US + Math.floor(i / 3) * STEP_US, STEP_US);
    await insert(db.ch, chunk);
    if (i === 0) await insert(db.ch, chunk.slice(0, DUPLICATES)); // re-delivered copies
  }
  console.error(`# seeded ${ROWS} events + ${DUPLICATES} duplicates in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  key = (await createApiKey(db.ch, { role: 'admin', tenants: [] })).key;
  await ensureTopics(kafka, { topics: [{ name: topic, partitions: 1, replicationFactor: 1 }] });
  ({ child, url } = await startApi({ AUDITSTREAM_API__EXPORT_MANIFEST_SIGNING_KEY: generateSigningKey().privatePem }));
});

async function startApi(extraEnv: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  // A 96 MB V8 heap: an export that buffered its rows (~550 MB of NDJSON) could not complete.
  const child = spawn(
    process.execPath,
    ['--max-old-space-size=96', '--import', 'tsx', fileURLToPath(new URL('./export-child.test-helper.ts', import.meta.url))],
    {
      env: {
        ...process.env,
        AUDITSTREAM_CLICKHOUSE__DATABASE: db.database,
        AUDITSTREAM_API__PORT: '0',
        AUDITSTREAM_TOPICS__EVENTS: topic,
        AUDITSTREAM_LOG__LEVEL: 'warn',
        ...extraEnv,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the API did not start in 30 s')), 30_000);
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      if (!line.startsWith('API_URL=')) return process.stderr.write(`# api: ${line.slice(0, 300)}\n`);
      clearTimeout(timer);
      resolve(line.slice('API_URL='.length));
    });
    child.once('exit', (code) => reject(new Error(`the API exited with ${code}`)));
  });
  return { child, url };
}

after(async () => {
  for (const c of [child, plain?.child]) {
    if (!c || c.exitCode !== null) continue;
    const exited = new Promise((resolve) => c.once('exit', resolve));
    c.kill('SIGTERM');
    await exited;
  }
  try {
    await deleteTopics(kafka, [topic]);
  } finally {
    await db?.drop();
  }
});

/** Streams an export, counting lines (and optionally checking ids), sampling the API's RSS. */
async function exportAndMeasure(
  params: string,
  checkIds: boolean,
  api: { child: ChildProcess; url: string } = { child, url },
): Promise<{ rows: number; seconds: number; peakRssMb: number; bytes: number; unique: number; sha256: string; manifestUrl: string | null }> {
  const pid = api.child.pid as number;
  let peakKb = memory(pid).rssKb;
  const sampler = setInterval(() => {
    peakKb = Math.max(peakKb, memory(pid).rssKb);
  }, 25);
  const started = process.hrtime.bigint();
  const res = await fetch(`${api.url}/v1/export?${params}`, { headers: { authorization: `Bearer ${key}` } });
  assert.equal(res.status, 200);
  const hash = createHash('sha256');
  let rows = 0;
  let bytes = 0;
  let tail = '';
  const ids = checkIds ? new Set<string>() : undefined;
  const decoder = new TextDecoder();
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    bytes += chunk.byteLength;
    hash.update(chunk);
    const text = tail + decoder.decode(chunk, { stream: true });
    const lines = text.split('\n');
    tail = lines.pop() ?? '';
    rows += lines.length;
    if (ids) for (const l of lines) ids.add(l.slice(13, 49)); // {"event_id":"<36>"
  }
  assert.equal(tail, '', 'the export ends with a complete line');
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  clearInterval(sampler);
  peakKb = Math.max(peakKb, memory(pid).rssKb);
  return {
    rows,
    seconds,
    peakRssMb: peakKb / 1024,
    bytes,
    unique: ids?.size ?? rows,
    sha256: hash.digest('hex'),
    manifestUrl: res.headers.get('x-manifest-url'),
  };
}

async function manifestOf(e: { manifestUrl: string | null }): Promise<ExportManifest> {
  assert.ok(e.manifestUrl, 'the export names its manifest');
  const res = await fetch(`${url}${e.manifestUrl}`, { headers: { authorization: `Bearer ${key}` } });
  assert.equal(res.status, 200);
  return (await res.json()) as ExportManifest;
}

test(`export of ${ROWS.toLocaleString('en')} events streams in constant memory, each event once`, async (t) => {
  assert.ok((await rawEventRowCount(db.ch, 'acme')) > 0);
  const idle = memory(child.pid as number);
  // Warm up (JIT, pools), then a tenth of the rows, then all of them: the peak must not grow with the row count.
  await exportAndMeasure(qs({ from: FROM, to: FROM + 3_600_000_000 }), false);
  const tenth = await exportAndMeasure(qs({ from: FROM, to: FROM + Math.ceil(ROWS / 30) * STEP_US }), false);
  const full = await exportAndMeasure(qs({ from: FROM, to: TO }), true);
  const csv = await exportAndMeasure(qs({ from: FROM, to: TO, format: 'csv' }), false);
  const hwm = memory(child.pid as number).hwmKb / 1024;
  plain = await startApi({});
  await exportAndMeasure(qs({ from: FROM, to: FROM + 3_600_000_000 }), false, plain);
  const unsigned = await exportAndMeasure(qs({ from: FROM, to: TO }), false, plain);
  assert.equal(unsigned.manifestUrl, null, 'no manifest key, no manifest');
  const report = {
    rows: full.rows,
    unique: full.unique,
    ndjson_seconds: Number(full.seconds.toFixed(1)),
    ndjson_rows_per_s: Math.round(full.rows / full.seconds),
    ndjson_rows_per_s_without_manifest: Math.round(unsigned.rows / unsigned.seconds),
    manifest_throughput_ratio: Number((unsigned.seconds / full.seconds).toFixed(2)),
    ndjson_mb: Math.round(full.bytes / 2 ** 20),
    csv_rows_per_s: Math.round((csv.rows - 1) / csv.seconds),
    idle_rss_mb: Math.round(idle.rssKb / 1024),
    peak_rss_mb_tenth: Math.round(tenth.peakRssMb),
    peak_rss_mb_full: Math.round(full.peakRssMb),
    peak_rss_mb_csv: Math.round(csv.peakRssMb),
    vm_hwm_mb: Math.round(hwm),
  };
  t.diagnostic(JSON.stringify(report));
  console.error(`# export figures: ${JSON.stringify(report)}`);
  assert.equal(full.rows, ROWS, 'every event exported');
  assert.equal(full.unique, ROWS, 'each event once (re-delivered copies skipped)');
  assert.equal(csv.rows, ROWS + 1, 'CSV: header + one row per event');
  // The manifests describe exactly the bytes streamed (the header row of the CSV is not a row).
  for (const [e, rowCount] of [
    [full, ROWS],
    [csv, ROWS],
  ] as const) {
    const m = await manifestOf(e);
    assert.deepEqual([m.row_count, m.digest.body_sha256, m.digest.body_bytes], [rowCount, e.sha256, e.bytes]);
  }
  assert.equal(unsigned.sha256, full.sha256, 'the same bytes with or without a manifest');
  // Constant memory: ten times the rows may not cost more than a few buffers more.
  assert.ok(full.peakRssMb - tenth.peakRssMb < 64, `peak RSS grew from ${tenth.peakRssMb.toFixed(0)} MB to ${full.peakRssMb.toFixed(0)} MB`);
  assert.ok(hwm < 400, `peak RSS ${hwm.toFixed(0)} MB`);
});
