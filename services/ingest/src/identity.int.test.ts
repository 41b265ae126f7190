import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { getEvent } from '@auditstream/clickhouse';
import { uuidv7 } from '@auditstream/core';
import { createAuditProducer, type PublishInput } from '@auditstream/producer';
import {
  committedTotal,
  countStored,
  createTestEnv,
  type IngestChild,
  mergeFully,
  rowCounts,
  sampleInput,
  scrape,
  spawnIngest,
  type TestEnv,
  verifyTestEnv,
  waitFor,
} from '@auditstream/test';
import type { Kafka } from 'kafkajs';

/**
 * Storage identity (@auditstream/clickhouse identity.ts), end to end on the real Kafka, ClickHouse and `auditstream ingest`,
 * with merges forced (OPTIMIZE … FINAL): a stored row is its Kafka message, so messages reusing an
 * event_id are all kept (and verify stays clean, naming the conflict), while re-delivered copies
 * of one message collapse. Before migration 006 the events key ended at event_id: the merge kept
 * one of the messages and verify reported the others' chain entries as deleted.
 */
const children: IngestChild[] = [];
const start = (env: TestEnv) => {
  const c = spawnIngest(env.env);
  children.push(c);
  return c;
};
after(() => {
  for (const c of children) c.proc.kill('SIGKILL');
});
before(() => {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
});

async function publish(kafka: Kafka, topic: string, events: PublishInput[]): Promise<void> {
  const producer = createAuditProducer({ kafka, topic, linger_ms: 5 });
  await producer.connect();
  try {
    await producer.publishMany(events);
  } finally {
    await producer.close();
  }
}

const forceMerge = (env: TestEnv) => mergeFully(env.ch, env.database, 'events');
const waitCommitted = (env: TestEnv, n: number) =>
  waitFor(
    `${n} offsets committed`,
    () => committedTotal(env.kafka, env.group, env.topic),
    (c) => c >= n,
    120_000,
  );

/** One event of `actor` in the test's tenant, all on one day with one action: the old key collapsed these by event_id. */
function loginOf(env: TestEnv, eventId: string, actor: string, over: Partial<PublishInput> = {}): PublishInput {
  return {
    ...sampleInput(env.tenant, 0),
    event_id: eventId,
    actor: { id: actor, type: 'user', ip: '81.2.69.142' },
    action: 'auth.login',
    category: 'authentication',
    ...over,
  };
}

async function stop(c: IngestChild): Promise<void> {
  c.proc.kill('SIGTERM');
  assert.equal(await c.exited, 0, c.output().split('\n').slice(-20).join('\n'));
}

test('six different messages with one event_id: all six stay after a forced merge, verify is clean and names the conflict', async (t) => {
  const env = await createTestEnv({ partitions: 4 });
  t.after(() => env.cleanup());
  const id = uuidv7();
  const six = Array.from({ length: 6 }, (_, k) =>
    loginOf(env, id, 'alice', { outcome: k % 2 ? 'success' : 'failure', reason: `attempt ${k}`, attributes: { attempt: String(k) } }),
  );
  await publish(env.kafka, env.topic, six);
  const ingest = start(env);
  await waitCommitted(env, 6);
  const reuses = await scrape(await ingest.metricsUrl(), 'auditstream_ingest_event_id_reuse_total', { kind: 'conflict' });
  await stop(ingest);

  await forceMerge(env);
  assert.deepEqual(await rowCounts(env.ch, env.database, env.tenant), { raw: 6, distinct: 1, final: 6 }, 'no message merged away');
  assert.equal(await countStored(env.ch, env.tenant), 1, 'queries count the event id once');
  const shown = await getEvent(env.ch, env.tenant, id);
  assert.deepEqual(shown?.event.attributes, { attempt: '0' }, 'queries show the first received message');

  const report = await verifyTestEnv(env);
  assert.equal(report.ok, true, JSON.stringify(report.findings.slice(0, 3)));
  assert.deepEqual(
    report.findings.filter((f) => f.severity === 'error'),
    [],
  );
  const conflicts = report.findings.filter((f) => f.kind === 'event_id_conflict');
  assert.equal(conflicts.length, 5, 'each message not shown is named');
  assert.ok(conflicts.every((f) => f.event_id === id && f.severity === 'warning' && f.tenant_id === env.tenant));
  assert.equal(report.event_id_conflicts, 1);
  assert.equal(report.entries, 6, 'six chain entries, none missing');
  assert.equal(reuses, 5, 'ingest counted the five reuses as they were stored');
});

test('"replace the victim\'s row": a later message reusing the victim\'s event_id does not replace it; verify names the attempt', async (t) => {
  const env = await createTestEnv({ partitions: 4 });
  t.after(() => env.cleanup());
  const victimId = uuidv7();
  const ingest = start(env);
  // The victim's failed login, and unrelated traffic around it.
  await publish(env.kafka, env.topic, [
    loginOf(env, victimId, 'victim', { outcome: 'failure', reason: 'bad password' }),
    ...Array.from({ length: 20 }, (_, i) => sampleInput(env.tenant, i)),
  ]);
  await waitCommitted(env, 21);
  // The attacker publishes a "success" under the victim's id, tenant, actor, action and day.
  await publish(env.kafka, env.topic, [loginOf(env, victimId, 'victim', { outcome: 'success', reason: null, attributes: { mfa: 'passed' } })]);
  await waitCommitted(env, 22);
  await stop(ingest);

  await forceMerge(env);
  const shown = await getEvent(env.ch, env.tenant, victimId);
  assert.equal(shown?.event.outcome, 'failure', "the victim's row is still the one shown");
  assert.equal(shown?.event.reason, 'bad password');
  const [both] = await env.ch.queryRows<{ n: string }>(
    `SELECT count() AS n FROM ${env.database}.events WHERE tenant_id = '${env.tenant}' AND event_id = '${victimId}'`,
  );
  assert.equal(Number(both?.n), 2, 'both messages are stored');
  const report = await verifyTestEnv(env);
  assert.equal(report.ok, true, JSON.stringify(report.findings.slice(0, 3)));
  const conflicts = report.findings.filter((f) => f.kind === 'event_id_conflict');
  assert.equal(conflicts.length, 1);
  assert.equal(conflicts[0]?.event_id, victimId);
  assert.equal(conflicts[0]?.partition, shown?.meta.kafka_partition, 'same key, same partition');
  assert.ok(BigInt(conflicts[0]?.offset ?? '0') > BigInt(shown?.meta.kafka_offset ?? '0'), "the attacker's (later) message is the one named");
});

test('kill -9 mid-stream with reused event ids: re-delivered copies collapse, the reuse does not; verify clean after a forced merge', async (t) => {
  const N = Number(process.env.IDENTITY_TEST_EVENTS ?? 20_000);
  const env = await createTestEnv({ partitions: 4 });
  t.after(() => env.cleanup());
  // Every 500th message reuses the id of the message before it, with other content.
  const events: PublishInput[] = [];
  for (let i = 0; i < N; i++) {
    const e = sampleInput(env.tenant, i);
    const prev = events[i - 1];
    events.push(i % 500 === 499 && prev ? { ...prev, outcome: 'denied', attributes: { reused: String(i) } } : e);
  }
  const reused = Math.floor(N / 500);
  for (let i = 0; i < N; i += 5000) await publish(env.kafka, env.topic, events.slice(i, i + 5000));

  const first = start(env);
  await waitFor(
    'some rows stored',
    () => rowCounts(env.ch, env.database, env.tenant),
    (c) => c.raw >= N / 4,
    180_000,
    100,
  );
  first.proc.kill('SIGKILL');
  assert.equal(await first.exited, 'SIGKILL');
  const second = start(env);
  await waitCommitted(env, N);
  await stop(second);

  const beforeMerge = await rowCounts(env.ch, env.database, env.tenant);
  t.diagnostic(`rows before the forced merge: ${beforeMerge.raw} (${beforeMerge.raw - N} re-delivered copies)`);
  await forceMerge(env);
  const merged = await rowCounts(env.ch, env.database, env.tenant);
  assert.deepEqual(merged, { raw: N, distinct: N - reused, final: N }, 'one row per message: copies collapsed, reuses kept');
  assert.equal(await countStored(env.ch, env.tenant), N - reused);
  const report = await verifyTestEnv(env);
  assert.equal(report.ok, true, JSON.stringify(report.findings.filter((f) => f.severity === 'error').slice(0, 3)));
  assert.equal(report.entries, N);
  assert.equal(report.findings.filter((f) => f.kind === 'event_id_conflict').length, reused);
  assert.equal(report.event_id_conflicts, reused);
});
