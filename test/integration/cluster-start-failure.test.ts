import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '@auditstream/core';
import { waitFor } from '@auditstream/test';

// `npm run test:cluster` when the cluster cannot start, the way it failed in a CI rehearsal: a socket
// that does not listen holds ZooKeeper's port (a client socket in the ephemeral range did), so the
// stack's "nothing accepts connections there" check passes and ZooKeeper exits at start, its cause
// only in its own log. The runner must print the tail of every server's logs (CI keeps its output,
// not the dir), keep the state dir and say where, and leave no process of the cluster running.
// Real ZooKeeper and brokers, on ports of their own (START_FAILURE_BASE_PORT moves them).

const basePort = Number(process.env.START_FAILURE_BASE_PORT ?? 30200);

/** Processes with `dir` in their command line (every server of the cluster has its state dir there). */
function processesOf(dir: string): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(dir);
      } catch {
        return false;
      }
    })
    .map(Number);
}

test('stack up --cluster fails (ZooKeeper cannot bind its port): the runner prints each log tail naming the cause, keeps the dir, stops every process', async (t) => {
  // Bound without SO_REUSEADDR and not listening, like a client socket: Node's sockets always set
  // SO_REUSEADDR (which the JVM's bind would share), hence Python.
  const holder: ChildProcess = spawn(
    'python3',
    ['-c', 'import socket, sys\ns = socket.socket()\ns.bind(("127.0.0.1", int(sys.argv[1])))\nprint("bound", flush=True)\nsys.stdin.read()', String(basePort)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  t.after(() => holder.kill());
  let held = '';
  holder.stdout?.on('data', (d) => {
    held += String(d);
  });
  await waitFor(
    `python3 holds 127.0.0.1:${basePort}`,
    async () => held,
    (s) => s.includes('bound') || holder.exitCode !== null,
    30_000,
  );
  assert.equal(holder.exitCode, null, `the port holder runs (is ${basePort} free?)`);

  const runner = spawn(process.execPath, [join(repoRoot(), 'scripts', 'test-cluster.mjs'), 'test/cluster/no-such-file.cluster-test.ts'], {
    cwd: repoRoot(),
    env: { ...process.env, AUDITSTREAM_TEST_CLUSTER_BASE_PORT: String(basePort), TEST_CLUSTER_WALL_TIMEOUT_MS: String(10 * 60_000) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  runner.stdout?.on('data', (d) => {
    out += String(d);
  });
  runner.stderr?.on('data', (d) => {
    out += String(d);
  });
  const code = await new Promise<number | string>((resolve) => runner.once('exit', (c, s) => resolve(c ?? s ?? -1)));
  const kept = /its state dir \(logs, data\) is kept in (\S+);/.exec(out)?.[1];
  if (kept) t.after(() => rmSync(kept, { recursive: true, force: true }));

  assert.equal(code, 1, out.slice(-4000));
  assert.match(out, /the cluster did not start/, out.slice(-4000));
  assert.match(out, /zookeeper exited \(exit \d+\)/, 'the start error gives how ZooKeeper ended');
  // The log tails, printed by the runner: ZooKeeper's own log names the cause, and every broker's logs are there.
  const zkTail = out.split('----- cluster/zookeeper/logs/zookeeper.log -----')[1] ?? '';
  assert.match(zkTail, /Address already in use/, out.slice(-4000));
  for (const b of [1, 2, 3]) assert.ok(out.includes(`----- cluster/kafka-${b}/kafka/logs/stdout.log`), `kafka-${b}'s stdout tail is printed`);
  assert.ok(kept && existsSync(join(kept, 'cluster', 'zookeeper', 'logs', 'zookeeper.log')), `the state dir is kept with its logs (${kept})`);
  assert.deepEqual(processesOf(kept), [], 'no process of the cluster is left');
});
