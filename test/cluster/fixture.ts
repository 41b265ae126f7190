import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localDatabase } from '@auditstream/clickhouse';
import { type ClusterLayout, clusterClientEnv, clusterLayout, createClusterStack, isAlive, type Stack } from '@auditstream/stack';
import { createTestEnv, type TestEnv, waitFor } from '@auditstream/test';

// The one way a cluster test gets its cluster. AUDITSTREAM_TEST_CLUSTER_HOME names a cluster that is
// already up (started by scripts/test-cluster.mjs for `npm run test:cluster`, or by hand) and is left
// running; otherwise the file starts its own in a temporary directory and stops it afterwards. Every
// file leaves the cluster healthy: `stop()` brings back whatever a fault test killed (the files share it).

export interface TestCluster {
  stack: Stack;
  layout: ClusterLayout;
  /** The cluster's state dir (what `bench --cluster --cluster-home` takes). */
  stateDir: string;
  /** SIGKILL one process of the cluster (by its `stack status` name) and wait until it is gone. */
  kill(name: string): Promise<void>;
  /** The ingest test environment (topic, database, tenant…) with the cluster's client settings. */
  createEnv(options: NonNullable<Parameters<typeof createTestEnv>[0]>): Promise<TestEnv>;
  /** Start whatever is not running; returns the names started. */
  restore(): Promise<string[]>;
  /** Rows of `tenant` one ClickHouse server holds locally, after catching up with its shard's log. */
  localCount(httpPort: number, database: string, tenant: string): Promise<number>;
  /** A statement on one ClickHouse server (HTTP), its output trimmed. */
  query(httpPort: number, sql: string): Promise<string>;
  /** Brings back whatever a test killed (the next file gets a whole cluster), then stops the cluster if this file started it. */
  stop(): Promise<void>;
}

export function clusterBasePort(): number {
  return Number(process.env.AUDITSTREAM_TEST_CLUSTER_BASE_PORT ?? 30000);
}

export async function startTestCluster(): Promise<TestCluster> {
  const basePort = clusterBasePort();
  const reuseHome = process.env.AUDITSTREAM_TEST_CLUSTER_HOME;
  const stateDir = reuseHome ?? mkdtempSync(join(tmpdir(), 'auditstream-cluster-'));
  const layout = clusterLayout('127.0.0.1', basePort);
  const stack = createClusterStack({ stateDir, basePort, stopGraceMs: 20_000 });
  const up = await stack.up();
  const startedHere = !up.alreadyRunning;
  assert.ok(
    up.components.every((c) => c.healthy),
    `every process of the cluster is healthy: ${JSON.stringify(up.components)}`,
  );

  const query = async (httpPort: number, sql: string): Promise<string> => {
    const res = await fetch(`http://127.0.0.1:${httpPort}/`, { method: 'POST', body: sql });
    const text = await res.text();
    if (!res.ok) throw new Error(`ClickHouse on ${httpPort}: ${text}`);
    return text.trim();
  };

  const restore = async (): Promise<string[]> => {
    const again = await stack.up();
    assert.ok(
      again.components.every((c) => c.healthy),
      `the cluster is healthy again: ${JSON.stringify(again.components)}`,
    );
    return again.started;
  };

  // The databases of the envs made here: `stop()` checks that their cleanup left neither `<db>` nor
  // `<db>_local` on any server (the files share the cluster, and a leak would pile up replicated tables).
  const databases: string[] = [];
  const leftDatabases = async (): Promise<string[]> => {
    if (databases.length === 0) return [];
    const names = databases.flatMap((d) => [d, localDatabase(d)]);
    const where = `name IN (${names.map((n) => `'${n}'`).join(', ')})`;
    const perServer = await Promise.all(
      layout.clickhouse.map(async (c) =>
        (await query(c.httpPort, `SELECT name FROM system.databases WHERE ${where} ORDER BY name`))
          .split('\n')
          .filter(Boolean)
          .map((n) => `${c.name}: ${n}`),
      ),
    );
    return perServer.flat();
  };

  return {
    stack,
    layout,
    stateDir,
    async createEnv(options) {
      const env = await createTestEnv({ ...options, extraEnv: { ...clusterClientEnv(layout), ...options.extraEnv } });
      databases.push(env.database);
      return env;
    },
    async kill(name) {
      const proc = (await stack.status()).find((c) => c.name === name);
      assert.ok(proc?.pid, `${name} runs`);
      const pid = proc.pid;
      process.kill(pid, 'SIGKILL');
      await waitFor(
        `${name} gone`,
        async () => isAlive(pid),
        (alive) => !alive,
        30_000,
      );
    },
    restore,
    query,
    async localCount(httpPort, database, tenant) {
      const local = `${localDatabase(database)}.events`;
      await query(httpPort, `SYSTEM SYNC REPLICA ${local}`);
      return Number(await query(httpPort, `SELECT count() FROM ${local} FINAL WHERE tenant_id = '${tenant}'`));
    },
    async stop() {
      // A file that started its own cluster restores it too: the check below asks every server.
      await restore().catch(() => {});
      try {
        // Polled: an ON CLUSTER DROP reaches each server through the DDL queue (a server that was down
        // when the test cleaned up runs it once it is back).
        let left: string[] = [];
        await waitFor(
          'the test databases dropped on every server',
          async () => {
            left = await leftDatabases();
            return left.length === 0;
          },
          180_000,
          { everyMs: 1000, retryOnError: true, detail: () => `cleanup must drop each database and its _local one ON CLUSTER; still there: ${left.join(', ')}` },
        );
      } finally {
        if (startedHere) {
          const down = await stack.down();
          for (const c of await stack.status()) assert.equal(c.running, false, `${c.name} stopped by down (${JSON.stringify(down)})`);
        }
        if (!reuseHome) rmSync(stateDir, { recursive: true, force: true });
      }
    },
  };
}
