import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import {
  countStored,
  createTestEnv,
  type IngestChild,
  publishEvents,
  rowCounts,
  scrape,
  spawnIngest,
  verifyTestEnv,
  waitFor,
  waitForStored,
} from '@auditstream/test';

const N = 50_000;
const children: IngestChild[] = [];
after(() => {
  for (const c of children) c.proc.kill('SIGKILL');
});

const lastJoin = (c: IngestChild) =>
  c
    .output()
    .split('\n')
    .reverse()
    .find((l) => l.includes('joined the consumer group')) ?? '';

test('a second instance joins mid-stream (no message stored twice: partitions are given up flushed and committed); kill -9 one, the other finishes: exactly N', async (t) => {
  const env = await createTestEnv({ partitions: 6 });
  t.after(() => env.cleanup());
  // Small fetches so the work is spread over many rounds and both instances are mid-stream;
  // a short session timeout so the group notices the killed instance quickly.
  const instanceEnv = {
    ...env.env,
    AUDITSTREAM_INGEST__FETCH_MAX_BYTES: String(512 * 1024),
    AUDITSTREAM_INGEST__FETCH_MAX_PARTITION_BYTES: String(128 * 1024),
    AUDITSTREAM_INGEST__FETCH_MIN_BYTES: '1',
    AUDITSTREAM_INGEST__SESSION_TIMEOUT_MS: '10000',
  };
  await publishEvents(env.kafka, env.topic, env.tenant, N);
  const a = spawnIngest(instanceEnv);
  children.push(a);
  const urlA = await a.metricsUrl();
  await waitForStored(env, N / 10, { what: 'instance A mid-stream', timeoutMs: 120_000, everyMs: 100 });

  // B joins: the group rebalances while A is consuming.
  const b = spawnIngest(instanceEnv);
  children.push(b);
  const urlB = await b.metricsUrl();
  await waitFor(
    'both instances own partitions',
    async () => [lastJoin(a), lastJoin(b)].map((l) => /"partitions":\[[0-9,]+\]/.test(l)),
    ([x, y]) => x === true && y === true,
    60_000,
  );
  await waitFor(
    'B inserting',
    () => scrape(urlB, 'auditstream_ingest_inserted_events_total'),
    (n) => n > 0,
    60_000,
    100,
  );
  const atRebalance = await rowCounts(env.ch, env.database, env.tenant);
  assert.ok(atRebalance.distinct < N, 'the rebalance happened mid-stream');
  assert.equal(atRebalance.raw, atRebalance.distinct, 'A committed everything it stored before giving partitions up: nothing redelivered');

  const byA = await scrape(urlA, 'auditstream_ingest_inserted_events_total');
  a.proc.kill('SIGKILL');
  assert.equal(await a.exited, 'SIGKILL');
  await waitForStored(env, N, { what: `all ${N} stored`, timeoutMs: 180_000, everyMs: 500 });
  const byB = await scrape(urlB, 'auditstream_ingest_inserted_events_total');
  b.proc.kill('SIGTERM');
  assert.equal(await b.exited, 0);
  const counts = await rowCounts(env.ch, env.database, env.tenant);
  assert.equal(counts.distinct, N);
  assert.equal(counts.final, N, 'no duplicate visible');
  assert.equal(await countStored(env.ch, env.tenant), N);
  t.diagnostic(`A inserted ${byA} before kill -9, B ${byB}; rows redelivered after the kill (collapsed): ${counts.raw - N}`);

  // Two writers in turn on each partition (rebalance, then kill -9): still one clean chain and
  // one checkpoint chain per partition.
  const report = await verifyTestEnv(env);
  assert.deepEqual(
    report.findings.filter((f) => f.severity === 'error'),
    [],
    'verify finds no integrity error',
  );
  assert.equal(report.entries, N);
});
