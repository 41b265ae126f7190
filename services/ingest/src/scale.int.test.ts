import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { countStored, createTestEnv, type IngestChild, publishEvents, rowCounts, scrape, spawnIngest, waitFor } from './testing/harness.js';

const N = 50_000;
const children: IngestChild[] = [];
after(() => {
  for (const c of children) c.proc.kill('SIGKILL');
});

test('two instances share the group; kill -9 one mid-stream and the other takes its partitions: still exactly N', async (t) => {
  const env = await createTestEnv({ partitions: 6 });
  t.after(() => env.cleanup());
  // Small fetches so the work is spread over many rounds and both instances are mid-stream at the kill.
  // A short session timeout so the group notices the killed instance quickly.
  const small = {
    ...env.env,
    AUDITSTREAM_INGEST__FETCH_MAX_BYTES: String(512 * 1024),
    AUDITSTREAM_INGEST__FETCH_MAX_PARTITION_BYTES: String(128 * 1024),
    AUDITSTREAM_INGEST__SESSION_TIMEOUT_MS: '10000',
  };
  const a = spawnIngest(small);
  const b = spawnIngest(small);
  children.push(a, b);
  const [urlA, urlB] = await Promise.all([a.metricsUrl(), b.metricsUrl()]);
  const joinedBoth = () => /"partitions":\[[0-9,]+\][^\n]*joined the consumer group/;
  await waitFor(
    'both instances own partitions',
    async () => [
      joinedBoth().test(
        a
          .output()
          .split('\n')
          .reverse()
          .find((l) => l.includes('joined the consumer group')) ?? '',
      ),
      joinedBoth().test(
        b
          .output()
          .split('\n')
          .reverse()
          .find((l) => l.includes('joined the consumer group')) ?? '',
      ),
    ],
    ([x, y]) => x === true && y === true,
    60_000,
  );

  await publishEvents(env.kafka, env.topic, env.tenant, N);
  await waitFor(
    'both instances inserting',
    async () => [await scrape(urlA, 'auditstream_ingest_inserted_events_total'), await scrape(urlB, 'auditstream_ingest_inserted_events_total')],
    ([x, y]) => (x ?? 0) > 0 && (y ?? 0) > 0,
    120_000,
    100,
  );
  const byA = await scrape(urlA, 'auditstream_ingest_inserted_events_total');
  a.proc.kill('SIGKILL');
  assert.equal(await a.exited, 'SIGKILL');

  await waitFor(
    `all ${N} stored by the survivor`,
    () => countStored(env.ch, env.tenant),
    (n) => n >= N,
    180_000,
    500,
  );
  const byB = await scrape(urlB, 'auditstream_ingest_inserted_events_total');
  b.proc.kill('SIGTERM');
  assert.equal(await b.exited, 0);
  const counts = await rowCounts(env.ch, env.database, env.tenant);
  assert.equal(counts.distinct, N);
  assert.equal(counts.final, N, 'no duplicate visible');
  assert.equal(await countStored(env.ch, env.tenant), N);
  assert.ok(/joined the consumer group/.test(b.output().split('\n').slice(-200).join('\n')), 'the survivor rejoined after the kill');
  t.diagnostic(`instance A inserted ${byA} before kill -9, instance B ${byB}; rows redelivered ${counts.raw - N}`);
});
