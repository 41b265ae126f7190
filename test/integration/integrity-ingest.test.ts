import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { VerifyReport } from '@auditstream/integrity';
import {
  countStored,
  createTestEnv,
  type IngestChild,
  publishEvents,
  publishPoison as publishPoisonTo,
  rowCounts,
  scrape,
  spawnIngest,
  type TestEnv,
  verifyTestEnv,
  waitFor,
  waitForStored,
} from '@auditstream/test';

// The real `auditstream ingest` (child process) with integrity on, against the local Kafka 4.1 and
// ClickHouse 18.16: every stored row is chained, checkpoints are signed into the table and the
// checkpoints topic, dead letters are recorded, and `verifyStore` finds nothing — after a clean
// stop, and after a kill -9 mid-stream and a restart (re-delivered rows get their stored values).

const PARTITIONS = 6;
const FIRST = 3000;
const SECOND = 6000;
const POISON = 12;
const children: IngestChild[] = [];
let env: TestEnv;

before(async () => {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
  env = await createTestEnv({
    partitions: PARTITIONS,
    extraEnv: {
      AUDITSTREAM_INTEGRITY__CHECKPOINT_EVERY_EVENTS: '250',
      AUDITSTREAM_INTEGRITY__CHECKPOINT_INTERVAL_MS: '1000',
      // Many small INSERTs, so the kill -9 lands between them.
      AUDITSTREAM_INGEST__BATCH_MAX_ROWS: '300',
      AUDITSTREAM_INGEST__BATCH_MAX_AGE_MS: '200',
      // The killed member leaves the group sooner (the broker's minimum is 6 s).
      AUDITSTREAM_INGEST__SESSION_TIMEOUT_MS: '8000',
      AUDITSTREAM_INGEST__HEARTBEAT_INTERVAL_MS: '1000',
    },
  });
});

after(async () => {
  for (const c of children) c.proc.kill('SIGKILL');
  await env?.cleanup();
});

function start(): IngestChild {
  const c = spawnIngest(env.env);
  children.push(c);
  return c;
}

const tail = (c: IngestChild) => c.output().split('\n').slice(-15).join('\n');

const publishPoison = (n: number) => publishPoisonTo(env.kafka, env.topic, n, PARTITIONS);

function assertClean(report: VerifyReport, entries: number): void {
  const errors = report.findings.filter((f) => f.severity === 'error');
  assert.deepEqual(errors, [], `no integrity error (first: ${JSON.stringify(report.first_error)})`);
  assert.equal(report.ok, true);
  assert.equal(report.partitions.length, PARTITIONS, 'one chain per partition');
  assert.equal(report.entries, entries, 'every stored event is one chain entry');
  assert.deepEqual(report.entry_formats, { '1': 0, '2': entries }, 'ingest writes entry format 2 by default');
  for (const p of report.partitions) {
    assert.ok(p.checkpoints_in_table > 0, `partition ${p.partition}: checkpoints in the table`);
    assert.ok((p.checkpoints_in_topic ?? 0) > 0, `partition ${p.partition}: checkpoints on the checkpoints topic`);
    assert.equal(p.checkpoints, p.checkpoints_matched, `partition ${p.partition}: every checkpoint matches its stored entry`);
  }
}

async function tableCount(table: string): Promise<number> {
  const [r] = await env.ch.queryRows<{ n: string }>(`SELECT count() AS n FROM ${env.database}.${table}`);
  return Number(r?.n ?? 0);
}

test('ingest chains, signs and records dead letters; verify is clean after a SIGTERM stop', async () => {
  await publishEvents(env.kafka, env.topic, env.tenant, FIRST);
  await publishPoison(POISON);
  const first = start();
  await waitForStored(env, FIRST, { what: `${FIRST} events stored`, timeoutMs: 60_000 });
  await waitFor(
    'the dead letters recorded',
    () => tableCount('dlq_decisions'),
    (n) => n >= POISON,
    30_000,
  );
  first.proc.kill('SIGTERM');
  assert.equal(await first.exited, 0, `clean stop (log tail:\n${tail(first)})`);
  assert.match(first.output(), /"key_id":"[0-9a-f]{16}"/, 'ingest logged the signing key id');

  const [chain] = await env.ch.queryRows<{ unchained: string }>(
    `SELECT countIf(hash = '' OR prev_hash = '' OR chain_seq = 0) AS unchained FROM ${env.database}.events`,
  );
  assert.equal(Number(chain?.unchained), 0, 'every stored row carries its chain values');
  assert.ok((await tableCount('checkpoints')) >= PARTITIONS, 'checkpoints in the table');

  const report = await verifyTestEnv(env);
  assertClean(report, FIRST);
});

test('kill -9 mid-stream, restart: verify is still clean (re-delivered rows get their stored chain values)', async (t) => {
  await publishEvents(env.kafka, env.topic, env.tenant, SECOND, FIRST);
  const total = FIRST + SECOND;
  const victim = start();
  await waitForStored(env, FIRST + SECOND / 4, { what: 'some of the new events stored', timeoutMs: 60_000, everyMs: 50 });
  victim.proc.kill('SIGKILL');
  assert.equal(await victim.exited, 'SIGKILL');
  const atKill = await countStored(env.ch, env.tenant);
  assert.ok(atKill < total, `killed mid-stream (${atKill} of ${total} stored)`);

  // The kill may land between an INSERT and its commit, or not: to be sure stored rows are
  // re-delivered, move the group's commits back (as a crash right after many INSERTs would leave them).
  const admin = env.kafka.admin();
  await admin.connect();
  try {
    await waitFor(
      'the killed member evicted from the group',
      async () => (await admin.describeGroups([env.group])).groups[0]?.state,
      (s) => s === 'Empty',
      30_000,
    );
    const [committed] = await admin.fetchOffsets({ groupId: env.group, topics: [env.topic] });
    const partitions = (committed?.partitions ?? []).map((p) => ({ partition: p.partition, offset: String(Math.max(0, Math.floor(Number(p.offset) / 2))) }));
    await admin.setOffsets({ groupId: env.group, topic: env.topic, partitions });
  } finally {
    await admin.disconnect();
  }

  const survivor = start();
  await waitForStored(env, total, { what: `all ${total} stored`, timeoutMs: 60_000 });
  const metrics = await survivor.metricsUrl();
  const redelivered = await scrape(metrics, 'auditstream_ingest_chain_redelivered_total', { status: 'stored' });
  assert.ok(redelivered > 0, 're-delivered messages were given their stored chain values');
  assert.equal(await scrape(metrics, 'auditstream_ingest_chain_redelivered_total', { status: 'conflict' }), 0, 'no conflicting entry');
  survivor.proc.kill('SIGTERM');
  assert.equal(await survivor.exited, 0, `clean stop (log tail:\n${tail(survivor)})`);
  assert.doesNotMatch(survivor.output(), /"status":"conflict"|does not link into the chain/, 'no conflicting entry after the restart');

  const counts = await rowCounts(env.ch, env.database, env.tenant);
  assert.equal(counts.distinct, total);
  t.diagnostic(`re-delivered with their stored chain values: ${redelivered}; identical copies not merged yet: ${counts.raw - total}`);

  const report = await verifyTestEnv(env);
  assertClean(report, total);
});
