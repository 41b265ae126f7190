import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type IngestChild, publishEvents, rowCounts, spawnIngest, type TestEnv, verifyTestEnv, waitFor, waitForStored } from '@auditstream/test';
import { startTestCluster, type TestCluster } from './fixture.js';

// The real pipeline on `stack up --cluster` (run by `npm run test:cluster`, not `npm test`: it starts
// eight servers of its own): SDK → three brokers (RF 3) → the real `auditstream ingest` → ClickHouse
// 2 shards × 2 replicas through Distributed tables. Exactly once as queries see it, `verify` clean,
// and the same after one replica is killed with SIGKILL in the middle of ingest and brought back.

const BATCH = 3000;
let cluster: TestCluster;
let env: TestEnv;
let ingest: IngestChild | undefined;

const perServerCounts = () => Promise.all(cluster.layout.clickhouse.map((c) => cluster.localCount(c.httpPort, env.database, env.tenant)));

before(async () => {
  cluster = await startTestCluster();
  env = await cluster.createEnv({ partitions: 4 });
});

after(async () => {
  await ingest?.stop();
  await env?.cleanup().catch(() => {});
  await cluster?.stop();
});

test('events ingested into the cluster are stored exactly once across shards and replicas, and verify is clean', async () => {
  const topics = await env.kafka.admin();
  await topics.connect();
  const [meta] = (await topics.fetchTopicMetadata({ topics: [env.topic] })).topics;
  await topics.disconnect();
  assert.ok(
    meta?.partitions.every((p) => p.replicas.length === 3),
    'the events topic has three replicas per partition',
  );

  ingest = spawnIngest(env.env);
  await publishEvents(env.kafka, env.topic, env.tenant, BATCH);
  await waitForStored(env, BATCH, { timeoutMs: 240_000 });
  const counts = await rowCounts(env.ch, env.database, env.tenant);
  assert.equal(counts.final, BATCH, 'the Distributed table shows each event once');
  assert.equal(counts.distinct, BATCH);

  // Both shards hold data, and the two replicas of a shard hold the same rows.
  const perServer = await perServerCounts();
  const [s1r1, s1r2, s2r1, s2r2] = perServer as [number, number, number, number];
  assert.ok(s1r1 > 0 && s2r1 > 0, `both shards hold events: ${perServer.join(', ')}`);
  assert.equal(s1r1, s1r2, 'shard 1 replicas agree');
  assert.equal(s2r1, s2r2, 'shard 2 replicas agree');
  assert.equal(s1r1 + s2r1, BATCH, 'the shards split the events without overlap');

  const report = await verifyTestEnv(env);
  assert.equal(report.ok, true, JSON.stringify(report).slice(0, 2000));
});

test('kill -9 of one ClickHouse replica in the middle of ingest, then back: nothing lost, nothing visibly duplicated, verify clean', async () => {
  const victim = cluster.layout.clickhouse[1]?.name as string; // clickhouse-s1r2
  const publishing = publishEvents(env.kafka, env.topic, env.tenant, BATCH, BATCH);
  // Mid-ingest: some of the second batch is stored, not all of it.
  await waitForStored(env, BATCH + 1, { timeoutMs: 240_000, everyMs: 50 });
  await cluster.kill(victim);
  await publishing;
  await waitForStored(env, 2 * BATCH, { timeoutMs: 300_000 });

  // Back: `up` starts what is not running; the replica then fetches what it missed from its peer.
  assert.deepEqual(await cluster.restore(), [victim]);
  const counts = await rowCounts(env.ch, env.database, env.tenant);
  assert.equal(counts.final, 2 * BATCH, 'every event once through the Distributed table');
  assert.equal(counts.distinct, 2 * BATCH);
  // Polled: right after a restart, 18.16's SYNC REPLICA can return before the replica has pulled the
  // entries it missed from ZooKeeper's log, so one read may still be short. A replica that never
  // catches up fails the wait.
  const perServer = await waitFor('the killed replica caught up with its peer', perServerCounts, (c) => c[0] === c[1] && c[2] === c[3], 120_000, 1000);
  assert.equal(perServer[0], perServer[1], `the killed replica caught up with its peer: ${perServer.join(', ')}`);
  assert.equal(perServer[2], perServer[3]);
  assert.equal((perServer[0] as number) + (perServer[2] as number), 2 * BATCH);

  const report = await verifyTestEnv(env);
  assert.equal(report.ok, true, JSON.stringify(report).slice(0, 2000));
});
