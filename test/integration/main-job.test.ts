import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { repoRoot, sleep, uniqueName } from '@auditstream/core';
import { freePort, waitFor as poll } from '@auditstream/test';

// The README's main job, end to end: `auditstream up` (what `npm start` runs) on the real stack,
// with its own topics, database and ports, then a real Prometheus scraping the services it started.
const root = repoRoot();
const bin = join(root, 'services/cli/bin/auditstream.js');
let up: ChildProcess;
let out = '';
let ports: { ingest: number; alerting: number; api: number; prometheus: number };
let prometheus: ChildProcess | undefined;
const id = uniqueName('mainjob');

const pollUntil = <T>(read: () => Promise<T[]>) => poll('an alert listed by GET /v1/alerts', read, (rows) => rows.length > 0, 60_000);

function waitFor(re: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = setInterval(() => {
      const m = out.match(re);
      if (m) {
        clearInterval(tick);
        resolve(m);
      } else if (Date.now() - t0 > timeoutMs || up.exitCode !== null) {
        clearInterval(tick);
        reject(new Error(`timed out waiting for ${re} in the output of auditstream up:\n${out.slice(-3000)}`));
      }
    }, 250);
  });
}

before(async () => {
  ports = { ingest: await freePort(), alerting: await freePort(), api: await freePort(), prometheus: await freePort() };
  const env = {
    ...process.env,
    AUDITSTREAM_TOPICS__EVENTS: `${id}.events`,
    AUDITSTREAM_TOPICS__DLQ: `${id}.dlq`,
    AUDITSTREAM_TOPICS__ALERTS: `${id}.alerts`,
    AUDITSTREAM_TOPICS__CHECKPOINTS: `${id}.checkpoints`,
    AUDITSTREAM_TOPICS__PARTITIONS: '3',
    AUDITSTREAM_CLICKHOUSE__DATABASE: id,
    AUDITSTREAM_INGEST__GROUP_ID: `${id}-ingest`,
    AUDITSTREAM_INGEST__METRICS_PORT: String(ports.ingest),
    AUDITSTREAM_ALERTING__CONSUMER_GROUP: `${id}-alerting`,
    AUDITSTREAM_ALERTING__METRICS_PORT: String(ports.alerting),
    AUDITSTREAM_API__PORT: String(ports.api),
  };
  // The stack is the shared test stack (already running): `up` must leave it running.
  up = spawn(process.execPath, [bin, 'up', '--status-interval-s', '1', '--demo-rate', '30'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  up.stdout?.on('data', (d) => {
    out += String(d);
  });
  up.stderr?.on('data', (d) => {
    out += String(d);
  });
});

after(async () => {
  prometheus?.kill('SIGKILL');
  if (up.exitCode === null) {
    up.kill('SIGKILL');
    await sleep(500);
  }
});

test('npm start: events flow and the demo raises a brute-force alert within 2 minutes', async () => {
  await waitFor(/auditstream is running\./, 120_000);
  await waitFor(/stored [1-9]\d*/, 60_000);
  const alert = await waitFor(/ALERT \[high\] brute_force \(/, 120_000);
  assert.ok(alert);
});

test('npm start stores alerts in ClickHouse: the API (and so the console) lists the brute-force alert', async () => {
  assert.match((await waitFor(/Alerts +.*history: ([^\n]+)/, 120_000))[1] as string, /ClickHouse alerts table/);
  const key = (await waitFor(/^\s+(ask_\S+)$/m, 120_000))[1] as string;
  await waitFor(/ALERT \[high\] brute_force \(/, 120_000);
  const q = new URLSearchParams({
    from: new Date(Date.now() - 3_600_000).toISOString(),
    to: new Date(Date.now() + 60_000).toISOString(),
    rule_id: 'brute_force',
  });
  const listed = await pollUntil(async () => {
    const res = await fetch(`http://127.0.0.1:${ports.api}/v1/alerts?${q}`, { headers: { authorization: `Bearer ${key}` } });
    return res.ok ? ((await res.json()) as { data: { rule_id: string; event_ids: string[] }[] }).data : [];
  });
  assert.equal(listed[0]?.rule_id, 'brute_force');
  assert.ok((listed[0]?.event_ids.length ?? 0) > 0, 'the alert names its sample events');
});

test('npm start prints the console and a one-time sign-in link that does not carry the key', async () => {
  const [, link] = await waitFor(/Console sign-in link[^:]*: (http\S+)/, 60_000);
  const key = (await waitFor(/^\s+(ask_\S+)$/m, 1000))[1] as string;
  assert.equal((link as string).includes(key), false);
  const u = new URL(link as string);
  assert.equal(u.pathname, '/console/signin');
  const page = await fetch(new URL('/console/', u));
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
  const trade = (code: string) =>
    fetch(new URL('/console/session', u), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) });
  const code = new URLSearchParams(u.hash.slice(1)).get('code') as string;
  const first = await trade(code);
  assert.equal(first.status, 200);
  assert.equal(((await first.json()) as { token: string }).token, key);
  assert.equal((await trade(code)).status, 400, 'the code works once');
});

test('a real Prometheus scrapes every service: targets up, key series exist and move', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'prom-'));
  writeFileSync(
    join(dir, 'prometheus.yml'),
    [
      'global: { scrape_interval: 1s, evaluation_interval: 1s }',
      'scrape_configs:',
      `  - { job_name: auditstream-ingest, static_configs: [ { targets: ["127.0.0.1:${ports.ingest}"] } ] }`,
      `  - { job_name: auditstream-alerting, static_configs: [ { targets: ["127.0.0.1:${ports.alerting}"] } ] }`,
      `  - { job_name: auditstream-api, static_configs: [ { targets: ["127.0.0.1:${ports.api}"] } ] }`,
      '',
    ].join('\n'),
  );
  prometheus = spawn(
    'prometheus',
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${ports.prometheus}`],
    { stdio: 'ignore' },
  );
  const api = `http://127.0.0.1:${ports.prometheus}/api/v1`;
  const query = async (q: string) => {
    const res = await fetch(`${api}/query?query=${encodeURIComponent(q)}`).catch(() => undefined);
    if (!res?.ok) return [];
    return ((await res.json()) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } }).data.result;
  };
  let upSeries: Awaited<ReturnType<typeof query>> = [];
  for (let i = 0; i < 60; i++) {
    upSeries = await query('up');
    if (upSeries.length === 3 && upSeries.every((s) => s.value[1] === '1')) break;
    await sleep(1000);
  }
  assert.deepEqual(upSeries.map((s) => [s.metric.job, s.value[1]]).sort(), [
    ['auditstream-alerting', '1'],
    ['auditstream-api', '1'],
    ['auditstream-ingest', '1'],
  ]);
  const total = async (q: string) => Number((await query(`sum(${q})`))[0]?.value[1] ?? 'NaN');
  const before = { ingested: await total('auditstream_ingest_inserted_events_total'), evaluated: await total('auditstream_alerting_evaluated_events_total') };
  await sleep(5000);
  const afterMove = {
    ingested: await total('auditstream_ingest_inserted_events_total'),
    evaluated: await total('auditstream_alerting_evaluated_events_total'),
  };
  assert.ok(afterMove.ingested > before.ingested, `inserted events did not move (${before.ingested} → ${afterMove.ingested})`);
  assert.ok(afterMove.evaluated > before.evaluated, `evaluated events did not move (${before.evaluated} → ${afterMove.evaluated})`);
  assert.ok((await query('auditstream_ingest_end_to_end_delay_seconds_bucket')).length > 0);
  assert.ok((await query('auditstream_api_requests_total')).length >= 0);
});

test('every Grafana panel queries metrics the live services expose', async () => {
  const texts = await Promise.all([ports.ingest, ports.alerting, ports.api].map(async (p) => (await fetch(`http://127.0.0.1:${p}/metrics`)).text()));
  const live = new Set(texts.flatMap((t) => [...t.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1] as string)));
  const dashDir = join(root, 'deploy/grafana/dashboards');
  for (const f of readdirSync(dashDir).filter((x) => x.endsWith('.json'))) {
    const dash = JSON.parse(readFileSync(join(dashDir, f), 'utf8')) as { panels: { title: string; targets: { expr: string }[] }[] };
    for (const p of dash.panels) {
      for (const t of p.targets) {
        const stripped = t.expr.replace(/"[^"]*"/g, '""').replace(/\{[^}]*\}/g, '');
        for (const m of stripped.matchAll(/\bauditstream_[a-z0-9_]+/g)) {
          const name = m[0].replace(/_(bucket|sum|count)$/, '');
          assert.ok(live.has(name), `${f} / ${p.title}: ${name} is not exposed by any running service`);
        }
      }
    }
  }
});

test('Ctrl-C stops everything auditstream up started, and leaves the shared stack running', async () => {
  const children = spawnSync('ps', ['-o', 'pid=', '--ppid', String(up.pid)], { encoding: 'utf8' })
    .stdout.trim()
    .split(/\s+/)
    .filter(Boolean)
    .map(Number);
  assert.ok(children.length >= 4, `expected ingest, alerting, api and demo under auditstream up, found ${children.length}`);
  up.kill('SIGINT');
  const code = await new Promise<number | null>((resolve) => up.once('exit', (c) => resolve(c)));
  assert.equal(code, 0, out.slice(-2000));
  assert.match(out, /Everything auditstream up started is stopped\./);
  for (const pid of children) {
    let state = 'gone';
    try {
      state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] ?? '?';
    } catch {
      /* gone */
    }
    // A zombie (Z) has exited; only the container's init has not reaped it yet.
    assert.ok(state === 'gone' || state === 'Z', `child ${pid} is still running (state ${state}):\n${out.slice(-1500)}`);
  }
  const status = spawnSync(process.execPath, [bin, 'stack', 'status'], { encoding: 'utf8' });
  assert.equal(status.status, 0, 'the shared stack is still healthy');
});
