#!/usr/bin/env node
// `npm run test:cluster`: ONE `stack up --cluster` (ZooKeeper, three brokers, ClickHouse 2 shards × 2
// replicas) in a temporary state dir, shared by every test/cluster/*.cluster-test.ts run one after the
// other (AUDITSTREAM_TEST_CLUSTER_HOME / _BASE_PORT tell fixture.ts to reuse it; each file leaves it
// whole). Starting the cluster takes minutes, so once per suite, not once per file. The cluster is
// stopped whatever happens: failure, SIGINT, SIGTERM, or the wall-time bound. The dir is removed
// too, except when `stack up` failed: then the last lines of every log of the state dir are printed
// here (CI keeps this output, not the dir) and the dir is kept for a look (--rm-on-failure removes it).
// Test files named on the command line: run only those.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const flags = new Set(process.argv.slice(2).filter((a) => a.startsWith('--')));
for (const f of flags) {
  if (f !== '--rm-on-failure') {
    console.error(`unknown option ${f} (only --rm-on-failure: remove the state dir even when the cluster did not start)`);
    process.exit(2);
  }
}
const named = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const files =
  named.length > 0
    ? named
    : readdirSync(join(root, 'test', 'cluster'))
        .filter((f) => f.endsWith('.cluster-test.ts'))
        .sort()
        .map((f) => join('test', 'cluster', f));
const basePort = process.env.AUDITSTREAM_TEST_CLUSTER_BASE_PORT ?? '30000';
// The cluster's ports run from the base port to base+54 (services/stack clusterLayout). In the kernel's
// ephemeral range any client socket can hold one, and the server that binds it exits at start.
try {
  const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  if (Number(basePort) + 54 >= low && Number(basePort) <= high)
    console.error(`warning: base port ${basePort}: the cluster's ports overlap the ephemeral range ${low}-${high}, where a client socket can hold one`);
} catch {} // not Linux
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

const TAIL_LINES = 40;

/** Every current log of the state dir: each server's stdout/stderr file and its own log files (in its logs/ folder). */
function logFiles(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((p) => p.split('/').includes('logs') && p.endsWith('.log') && !p.endsWith('gc.log'))
    .sort()
    .map((p) => join(dir, p));
}

/** The last TAIL_LINES lines of every log, so a server that would not start names its cause in this output. */
function printLogTails(dir) {
  const files = logFiles(dir);
  console.error(`\nthe last ${TAIL_LINES} lines of each of the ${files.length} log file(s) under ${dir}:`);
  for (const file of files) {
    let lines;
    try {
      lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    } catch (err) {
      lines = [`(unreadable: ${err.message})`];
    }
    const empty = lines.length === 1 && lines[0] === '';
    console.error(`\n----- ${relative(dir, file)}${empty ? ' (empty)' : ''} -----`);
    if (!empty) console.error(lines.slice(-TAIL_LINES).join('\n'));
  }
}

/** Processes still running with the state dir in their command line (every server of the cluster has it there). */
function leftOver(dir) {
  if (!existsSync('/proc')) return [];
  const found = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (Number(pid) !== process.pid && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir)) found.push(Number(pid));
    } catch {} // gone meanwhile
  }
  return found;
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
let upFailed = true; // until `stack up` says otherwise (a wall-time stop during up counts as a failed start)
try {
  const up = await run(cli, ['stack', 'up', '--cluster'], stackEnv);
  upFailed = up !== 0 || stopReason !== undefined;
  if (up !== 0 && !stopReason) console.error('\nthe cluster did not start; see the messages above and the logs below');
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
  if (upFailed) printLogTails(home);
  // What `stack down` did not find (no pid file yet, or down itself failed): stopped by pid here.
  const left = leftOver(home);
  for (const pid of left) {
    console.error(`process ${pid} of this cluster is still running after \`stack down\`: SIGKILL`);
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
  if (down !== 0) console.error(`\n\`stack down\` failed (exit ${down}); state kept in ${home}`);
  else if (upFailed && !flags.has('--rm-on-failure'))
    console.error(`\nthe cluster did not start: its state dir (logs, data) is kept in ${home}; remove it when done`);
  else rmSync(home, { recursive: true, force: true });
}
console.log(`\ncluster suite: ${files.length} file(s), ${seconds(Date.now() - began)} in all`);
if (stopReason) {
  console.error(stopReason);
  code = 1;
}
process.exit(code);
