#!/usr/bin/env node
// `npm run test:cluster`: ONE `stack up --cluster` (ZooKeeper, three brokers, ClickHouse 2 shards × 2
// replicas) in a temporary state dir, shared by every test/cluster/*.cluster-test.ts run one after the
// other (AUDITSTREAM_TEST_CLUSTER_HOME / _BASE_PORT tell fixture.ts to reuse it; each file leaves it
// whole). Starting the cluster takes minutes, so once per suite, not once per file. The cluster is
// stopped and the dir removed whatever happens: failure, SIGINT, SIGTERM, or the wall-time bound.
// Test files named on the command line: run only those.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const named = process.argv.slice(2);
const files =
  named.length > 0
    ? named
    : readdirSync(join(root, 'test', 'cluster'))
        .filter((f) => f.endsWith('.cluster-test.ts'))
        .sort()
        .map((f) => join('test', 'cluster', f));
const basePort = process.env.AUDITSTREAM_TEST_CLUSTER_BASE_PORT ?? '30000';
// Up + every file; `stack down` after it has its own bound. CI's `timeout` around this run must be larger.
const wallMs = Number(process.env.TEST_CLUSTER_WALL_TIMEOUT_MS ?? 21 * 60_000);
const downMs = 3 * 60_000;
const home = mkdtempSync(join(tmpdir(), 'auditstream-test-cluster-'));
// `stack up --cluster` takes its state dir from AUDITSTREAM_HOME, its ports from the base port and its
// host from kafka.brokers[0]: the default 127.0.0.1, as fixture.ts assumes.
const { AUDITSTREAM_KAFKA__BROKERS: _brokers, ...inherited } = process.env;
const stackEnv = { ...inherited, AUDITSTREAM_HOME: home, AUDITSTREAM_STACK__CLUSTER_BASE_PORT: basePort };
const testEnv = { ...process.env, AUDITSTREAM_TEST_CLUSTER_HOME: home, AUDITSTREAM_TEST_CLUSTER_BASE_PORT: basePort };
const cli = join(root, 'node_modules', '.bin', 'auditstream');

let current; // the child running now, leader of its own process group (it and the ingest children it spawns)
let stopReason; // why the run was cut short: a signal or the wall-time bound
let cleaningUp = false; // `stack down` is running: a signal must not cut it short (it has its own bound)
const began = Date.now();
const seconds = (ms) => `${Math.round(ms / 1000)} s`;

function killCurrent() {
  const child = current;
  if (!child?.pid) return;
  const group = (signal) => {
    try {
      process.kill(-child.pid, signal);
    } catch {}
  };
  group('SIGTERM');
  // Hooks get a moment to put back what they killed; then the whole group goes.
  setTimeout(() => group('SIGKILL'), 20_000).unref();
}

function run(cmd, args, env, boundMs) {
  console.log(`\n$ ${[cmd === process.execPath ? 'node' : cmd.replace(`${root}/`, ''), ...args].join(' ')}`);
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, env, stdio: 'inherit', detached: true });
    current = child;
    const timer = boundMs
      ? setTimeout(() => {
          console.error(`\n${args.join(' ')} ran past ${seconds(boundMs)}: stopping it`);
          killCurrent();
        }, boundMs)
      : undefined;
    child.once('exit', (code, signal) => {
      if (timer) clearTimeout(timer);
      current = undefined;
      resolve(code ?? (signal ? 1 : 0));
    });
    child.once('error', (err) => {
      console.error(`${cmd}: ${err.message}`);
      resolve(1);
    });
  });
}

function stopEarly(reason) {
  if (stopReason) return;
  stopReason = reason;
  console.error(`\n${reason}: stopping the tests, then the cluster`);
  if (!cleaningUp) killCurrent();
}
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => stopEarly(`interrupted by ${signal}`));
const wall = setTimeout(
  () => stopEarly(`the cluster suite ran past ${seconds(wallMs)} (TEST_CLUSTER_WALL_TIMEOUT_MS): a test or the cluster hung, or the machine is too slow`),
  wallMs,
);

let code = 1;
try {
  const up = await run(cli, ['stack', 'up', '--cluster'], stackEnv);
  if (up !== 0 && !stopReason) console.error('\nthe cluster did not start; see the messages above');
  if (up === 0 && !stopReason) {
    console.log(`cluster up in ${seconds(Date.now() - began)}, state in ${home}, base port ${basePort}`);
    code = await run(
      process.execPath,
      [
        '--import',
        'tsx',
        '--test',
        '--test-reporter=spec',
        '--test-concurrency=1',
        // A file whose tests are done exits even if a kafkajs client left an idle socket open.
        '--test-force-exit',
        `--test-timeout=${process.env.TEST_TIMEOUT_MS ?? String(12 * 60_000)}`,
        ...files,
      ],
      testEnv,
    );
  }
} finally {
  clearTimeout(wall);
  cleaningUp = true;
  const down = await run(cli, ['stack', 'down'], stackEnv, downMs);
  if (down !== 0) console.error(`\n\`stack down\` failed (exit ${down}); processes may be left under ${home}`);
  else rmSync(home, { recursive: true, force: true });
}
console.log(`\ncluster suite: ${files.length} file(s), ${seconds(Date.now() - began)} in all`);
if (stopReason) {
  console.error(stopReason);
  code = 1;
}
process.exit(code);
