import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  committedTotal,
  countStored,
  createTestEnv,
  type IngestChild,
  publishEvents,
  rowCounts,
  spawnIngest,
  type TestEnv,
  waitForStored,
} from '@auditstream/test';

// Real broker, real ClickHouse, the real `auditstream ingest` in a child process.
const N = Number(process.env.INGEST_TEST_EVENTS ?? 100_000);
const children: IngestChild[] = [];
const start = (t: TestEnv) => {
  const c = spawnIngest(t.env);
  children.push(c);
  return c;
};
after(() => {
  for (const c of children) c.proc.kill('SIGKILL');
});

function tail(c: IngestChild): string {
  return c.output().split('\n').slice(-20).join('\n');
}

test(`exactly ${N} events via the SDK → exactly ${N} stored; SIGTERM under load exits 0 with offsets committed; restarts insert nothing twice`, async (t) => {
  const env = await createTestEnv({ partitions: 4 });
  t.after(() => env.cleanup());
  await publishEvents(env.kafka, env.topic, env.tenant, N);

  const first = start(env);
  await waitForStored(env, N / 3, { what: 'a third of the events stored', timeoutMs: 180_000 });
  const stopAt = Date.now();
  first.proc.kill('SIGTERM');
  const code = await first.exited;
  const stopMs = Date.now() - stopAt;
  assert.equal(code, 0, `clean stop exits 0 (log tail:\n${tail(first)})`);
  assert.ok(stopMs < env.config.ingest.shutdown_timeout_ms, `stopped in ${stopMs} ms, within ingest.shutdown_timeout_ms`);

  // Everything inserted is committed, and nothing was committed that is not inserted.
  const afterStop = await rowCounts(env.ch, env.database, env.tenant);
  const committed = await committedTotal(env.kafka, env.group, env.topic);
  assert.ok(afterStop.distinct < N, 'stopped mid-stream');
  assert.equal(committed, afterStop.distinct, 'committed offsets = rows stored');
  assert.equal(afterStop.raw, afterStop.distinct, 'no duplicate row after a clean stop');

  const second = start(env);
  await waitForStored(env, N, { what: `all ${N} stored`, timeoutMs: 180_000 });
  second.proc.kill('SIGTERM');
  assert.equal(await second.exited, 0);
  const done = await rowCounts(env.ch, env.database, env.tenant);
  assert.deepEqual(done, { raw: N, distinct: N, final: N }, 'the restart resumed exactly where the clean stop committed');
  assert.equal(await countStored(env.ch, env.tenant), N, 'the project count query');
  assert.equal(await committedTotal(env.kafka, env.group, env.topic), N);

  // A restart with everything committed inserts nothing.
  const third = start(env);
  await third.metricsUrl();
  await new Promise((r) => setTimeout(r, 4000));
  third.proc.kill('SIGTERM');
  assert.equal(await third.exited, 0);
  assert.deepEqual(await rowCounts(env.ch, env.database, env.tenant), { raw: N, distinct: N, final: N });
});

test(`kill -9 mid-stream, restart → still exactly ${N}, no duplicate visible`, async (t) => {
  const env = await createTestEnv({ partitions: 4 });
  t.after(() => env.cleanup());
  await publishEvents(env.kafka, env.topic, env.tenant, N);

  const first = start(env);
  await waitForStored(env, N / 4, { what: 'some events stored', timeoutMs: 180_000, everyMs: 100 });
  first.proc.kill('SIGKILL');
  assert.equal(await first.exited, 'SIGKILL');
  const atKill = await rowCounts(env.ch, env.database, env.tenant);
  assert.ok(atKill.distinct < N, 'killed mid-stream');

  const second = start(env);
  await waitForStored(env, N, { what: `all ${N} stored`, timeoutMs: 180_000 });
  second.proc.kill('SIGTERM');
  assert.equal(await second.exited, 0);
  const done = await rowCounts(env.ch, env.database, env.tenant);
  assert.equal(await countStored(env.ch, env.tenant), N, 'the project count query says N');
  assert.equal(done.distinct, N);
  assert.equal(done.final, N, 'no duplicate visible to a deduplicating query');
  t.diagnostic(`rows redelivered after kill -9 (collapsed by ReplacingMergeTree): ${done.raw - N}`);

  // Redelivered rows are byte-identical: each event_id has exactly one distinct row content.
  const [d] = await env.ch.queryRows<{ n: string }>(
    `SELECT count() AS n FROM (SELECT event_id, uniqExact(cityHash64(toString(received_at), toString(ingested_at), kafka_offset, severity, geo_country, ua_browser, reason, attr_values)) AS variants FROM ${env.database}.events WHERE tenant_id = '${env.tenant}' GROUP BY event_id HAVING variants > 1)`,
  );
  assert.equal(Number(d?.n), 0, 'a redelivered message produced the same row');
});

before(() => {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
});
