import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type IngestChild, publishEvents, rowCounts, scrape, spawnIngest, type TestEnv, verifyTestEnv, waitFor, waitForStored } from '@auditstream/test';
import { startTestCluster, type TestCluster } from './fixture.js';

// ZooKeeper restarted (SIGKILL, then started again) in the middle of ingest on `stack up --cluster`
// (run by `npm run test:cluster`). While ZooKeeper is away the replicated tables cannot take inserts
// (18.16 answers KEEPER_EXCEPTION / TABLE_IS_READ_ONLY): ingest must treat that as transient, retry
// and neither dead-letter the rows nor stop. Afterwards every event is stored exactly once as queries
// see it, both replicas of each shard agree, the dead-letter topic is empty and `verify` is clean.

const BATCH = 3000;
let cluster: TestCluster;
let env: TestEnv;
let ingest: IngestChild | undefined;

before(async () => {
  cluster = await startTestCluster();
  env = await cluster.createEnv({ partitions: 4 });
});

after(async () => {
  await ingest?.stop();
  await env?.cleanup().catch(() => {});
  await cluster?.stop();
});

test('ZooKeeper killed with SIGKILL in the middle of ingest, then back: inserts retried, nothing dead-lettered, every event once, verify clean', async () => {
  ingest = spawnIngest(env.env);
  const metrics = await ingest.metricsUrl();
  await publishEvents(env.kafka, env.topic, env.tenant, BATCH);
  await waitForStored(env, BATCH, { timeoutMs: 240_000 });

  // Mid-ingest: the second batch is in Kafka (KRaft, no ZooKeeper) while the tables cannot take it.
  await cluster.kill('zookeeper');
  await publishEvents(env.kafka, env.topic, env.tenant, BATCH, BATCH);
  // Proof that ingest met the outage: its inserts failed and were retried (not dead-lettered, not fatal).
  const alive = (child: IngestChild) => {
    if (child.proc.exitCode !== null) throw new Error(`ingest stopped (exit ${child.proc.exitCode}):\n${child.output().slice(-3000)}`);
  };
  await waitFor(
    'an INSERT retried while ZooKeeper is down',
    async () => {
      alive(ingest as IngestChild);
      return (await scrape(metrics, 'auditstream_ingest_insert_retries_total')) > 0;
    },
    240_000,
    { everyMs: 500, detail: () => (ingest as IngestChild).output().slice(-3000) },
  );

  assert.deepEqual(await cluster.restore(), ['zookeeper']);
  await waitForStored(env, 2 * BATCH, { timeoutMs: 300_000 });
  alive(ingest);
  assert.equal(await scrape(metrics, 'auditstream_ingest_dead_lettered_events_total'), 0, 'nothing dead-lettered');
  const admin = env.kafka.admin();
  await admin.connect();
  const dead = (await admin.fetchTopicOffsets(env.dlq)).reduce((n, p) => n + Number(p.high), 0);
  await admin.disconnect();
  assert.equal(dead, 0, 'the dead-letter topic is empty');

  const counts = await rowCounts(env.ch, env.database, env.tenant);
  assert.equal(counts.final, 2 * BATCH, 'every event once through the Distributed table');
  assert.equal(counts.distinct, 2 * BATCH);
  const perServer = await Promise.all(cluster.layout.clickhouse.map((c) => cluster.localCount(c.httpPort, env.database, env.tenant)));
  assert.equal(perServer[0], perServer[1], `shard 1 replicas agree: ${perServer.join(', ')}`);
  assert.equal(perServer[2], perServer[3], `shard 2 replicas agree: ${perServer.join(', ')}`);
  assert.equal((perServer[0] as number) + (perServer[2] as number), 2 * BATCH, 'the shards split the events without overlap');

  const report = await verifyTestEnv(env);
  assert.equal(report.ok, true, JSON.stringify(report).slice(0, 2000));
  const page = await (await fetch(`${metrics}/metrics`)).text();
  const errors = page.split('\n').filter((l) => l.startsWith('auditstream_ingest_errors_total{'));
  console.log(`zookeeper-restart: ingest ${errors.join('; ')}; ${await scrape(metrics, 'auditstream_ingest_insert_retries_total')} insert retries`);
});
