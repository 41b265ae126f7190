import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { repoRoot, sleep, uniqueName } from '@auditstream/core';
import { freePort } from '@auditstream/test';

// `npm start | tee log`, then Ctrl-C, left the ingest, alerting and API children running: `up`
// died on its closed output before it stopped them. Whatever ends up's output or up
// itself — a closed pipe (EPIPE), SIGHUP (the terminal closed), SIGTERM — its children must go.
// Real processes on the shared stack, with topics, database, consumer groups and ports of their own.
const root = repoRoot();
const bin = join(root, 'services/cli/bin/auditstream.js');
const id = uniqueName('upsig');
let env: NodeJS.ProcessEnv;
const started: { up: ChildProcess; children: number[] }[] = [];

before(async () => {
  env = {
    ...process.env,
    AUDITSTREAM_TOPICS__EVENTS: `${id}.events`,
    AUDITSTREAM_TOPICS__DLQ: `${id}.dlq`,
    AUDITSTREAM_TOPICS__ALERTS: `${id}.alerts`,
    AUDITSTREAM_TOPICS__CHECKPOINTS: `${id}.checkpoints`,
    AUDITSTREAM_TOPICS__PARTITIONS: '1',
    AUDITSTREAM_CLICKHOUSE__DATABASE: id,
    AUDITSTREAM_INGEST__GROUP_ID: `${id}-ingest`,
    AUDITSTREAM_ALERTING__CONSUMER_GROUP: `${id}-alerting`,
  };
});

after(async () => {
  // A failed test must not leave its processes behind.
  for (const s of started) {
    if (s.up.exitCode === null && s.up.signalCode === null) s.up.kill('SIGKILL');
    for (const pid of groupMembers(s.children)) spawnSync('kill', ['-9', String(pid)]);
  }
  // The database this file made (topics are left to the stack's retention, as in main-job).
  spawnSync(
    process.execPath,
    ['-e', `fetch(process.argv[1], { method: 'POST', body: 'DROP DATABASE IF EXISTS \`${id}\`' }).catch(() => {})`, 'http://127.0.0.1:8123/'],
    {
      stdio: 'ignore',
    },
  );
});

/** Process ids in the process group of each pid (a supervised child leads its own group). */
function groupMembers(pgids: readonly number[]): number[] {
  const ps = spawnSync('ps', ['-eo', 'pid=,pgid=,stat='], { encoding: 'utf8' }).stdout;
  return ps
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter(([, pgid, stat]) => pgids.includes(Number(pgid)) && !stat?.startsWith('Z'))
    .map(([pid]) => Number(pid));
}

/** Starts `auditstream up` on free ports; resolves once it printed that the stack is running, with its children. */
async function startUp(): Promise<{ up: ChildProcess; out: () => string; children: number[] }> {
  const ports = { ingest: await freePort(), alerting: await freePort(), api: await freePort() };
  const up = spawn(process.execPath, [bin, 'up', '--no-demo', '--status-interval-s', '1'], {
    env: {
      ...env,
      AUDITSTREAM_INGEST__METRICS_PORT: String(ports.ingest),
      AUDITSTREAM_ALERTING__METRICS_PORT: String(ports.alerting),
      AUDITSTREAM_API__PORT: String(ports.api),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const entry = { up, children: [] as number[] };
  started.push(entry);
  let text = '';
  up.stdout?.on('data', (d) => {
    text += String(d);
  });
  up.stderr?.on('data', (d) => {
    text += String(d);
  });
  const deadline = Date.now() + 180_000;
  while (!/Press Ctrl-C to stop\./.test(text)) {
    if (up.exitCode !== null || Date.now() > deadline) throw new Error(`auditstream up did not start:\n${text.slice(-3000)}`);
    await sleep(250);
  }
  // Its supervised children (not a short-lived helper it may be running at that moment).
  const children = spawnSync('ps', ['-o', 'pid=,args=', '--ppid', String(up.pid)], { encoding: 'utf8' })
    .stdout.trim()
    .split('\n')
    .filter((l) => / (ingest|alerting|api)$/.test(l.trim()))
    .map((l) => Number(l.trim().split(/\s+/)[0]));
  entry.children = children;
  assert.equal(children.length, 3, `ingest, alerting and api run under auditstream up:\n${text.slice(-1500)}`);
  return { up, out: () => text, children };
}

/** Waits until up has exited and every process of its children's groups is gone (bounded, not timed). */
async function assertAllGone(up: ChildProcess, children: number[], out: () => string): Promise<void> {
  if (up.exitCode === null && up.signalCode === null) await new Promise((resolve) => up.once('exit', resolve));
  let left = groupMembers(children);
  // Children stop on SIGTERM in their own time (flush, commit): poll for up to a minute.
  for (let i = 0; i < 240 && left.length > 0; i++) {
    await sleep(250);
    left = groupMembers(children);
  }
  if (left.length > 0) for (const pid of left) spawnSync('kill', ['-9', String(pid)]);
  assert.deepEqual(left, [], `children still running after auditstream up ended:\n${out().slice(-2000)}`);
}

test('a closed output (EPIPE) stops the children', async () => {
  const { up, out, children } = await startUp();
  // The reader goes away; up's next status line meets a closed pipe.
  up.stdout?.destroy();
  await assertAllGone(up, children, out);
  assert.equal(up.exitCode, 0, out().slice(-2000));
});

test('`npm start | tee log`, then Ctrl-C: tee is gone when up says it is stopping, and the children still stop', async () => {
  const { up, out, children } = await startUp();
  // Ctrl-C reaches the whole pipeline: tee dies, up starts stopping and writes into the closed pipe.
  up.stdout?.destroy();
  up.kill('SIGINT');
  await assertAllGone(up, children, out);
  assert.equal(up.exitCode, 0, out().slice(-2000));
});

for (const [signal, why] of [
  ['SIGHUP', 'the terminal closed'],
  ['SIGTERM', 'a service manager'],
] as const) {
  test(`${signal} (${why}) stops the children`, async () => {
    const { up, out, children } = await startUp();
    up.kill(signal);
    await assertAllGone(up, children, out);
    assert.equal(up.exitCode, 0, out().slice(-2000));
    assert.match(out(), /Everything auditstream up started is stopped\./);
  });
}
