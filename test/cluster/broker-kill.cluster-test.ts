import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { AuditstreamError } from '@auditstream/core';
import { createAuditProducer, PRODUCER_ERROR_CODES, type PublishReceipt } from '@auditstream/producer';
import {
  committedTotal,
  countStored,
  type IngestChild,
  rowCounts,
  sampleInput,
  spawnIngest,
  type TestEnv,
  verifyTestEnv,
  waitFor,
  waitForStored,
} from '@auditstream/test';
import { startTestCluster, type TestCluster } from './fixture.js';

// One Kafka broker killed with SIGKILL in the middle of publishing through the real SDK (idempotent,
// acks=all; topic RF 3, min.insync.replicas 2) while `auditstream ingest` runs, on `stack up --cluster`
// (run by `npm run test:cluster`). The victim leads some of the topic's partitions, so their
// leadership moves to the survivors under the producer's and the consumer's feet. Then it comes back.
// Every publish settles: acknowledged, or rejected with a typed error. Every acknowledged event is
// stored, once as the project's queries see it, and every Kafka message is one row (an event the SDK
// re-sent after the kill can be two messages: see below); nothing is stored that was not published;
// the replicas of each shard agree and `verify` is clean.

const TOTAL = 6000;
const PARTITIONS = 6;
/** Published and stored first, so ingest is known to be consuming when the stream that sees the kill starts. */
const WARM_UP = 500;
let cluster: TestCluster;
let env: TestEnv;
let ingest: IngestChild | undefined;

before(async () => {
  cluster = await startTestCluster();
  env = await cluster.createEnv({ partitions: PARTITIONS });
});

after(async () => {
  await ingest?.stop();
  await env?.cleanup().catch(() => {});
  await cluster?.stop();
});

async function leaders(): Promise<Map<number, number>> {
  const admin = env.kafka.admin();
  await admin.connect();
  try {
    const [meta] = (await admin.fetchTopicMetadata({ topics: [env.topic] })).topics;
    return new Map((meta?.partitions ?? []).map((p) => [p.partitionId, p.leader]));
  } finally {
    await admin.disconnect();
  }
}

async function topicTotal(): Promise<number> {
  const admin = env.kafka.admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(env.topic)).reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
  } finally {
    await admin.disconnect();
  }
}

interface Outcome {
  event_id: string;
  receipt?: PublishReceipt;
  error?: unknown;
}

test('kill -9 of a partition leader while the SDK publishes and ingest runs, then back: every acknowledged event stored once, the rest rejected with typed errors, verify clean', async () => {
  const before = await leaders();
  const victimId = before.get(0) as number;
  const led = [...before].filter(([, l]) => l === victimId).map(([p]) => p);
  assert.ok(led.length > 0 && led.length < PARTITIONS, `broker ${victimId} leads some, not all, partitions: ${JSON.stringify([...before])}`);
  const victim = `kafka-${victimId}`;

  ingest = spawnIngest(env.env);
  const producer = createAuditProducer({ kafka: env.kafka, topic: env.topic, linger_ms: 5, max_batch_events: 200 });
  await producer.connect();
  const outcomes: Outcome[] = [];
  const settling: Promise<void>[] = [];
  let acked = 0;
  let killed!: () => void;
  const killDone = new Promise<void>((resolve) => {
    killed = resolve;
  });
  // A steady stream (~50 events every 100 ms), so the kill lands between acknowledged and pending
  // events; it holds at three quarters until the kill is done, however slow the machine.
  const publisher = (async () => {
    for (let i = 0; i < TOTAL; i++) {
      if (i === WARM_UP) await waitForStored(env, WARM_UP, { what: 'ingest stored the warm-up events', timeoutMs: 240_000 });
      if (i === (3 * TOTAL) / 4) await killDone;
      const e = sampleInput(env.tenant, i);
      const o: Outcome = { event_id: e.event_id };
      outcomes.push(o);
      settling.push(
        producer.publish(e).then(
          (r) => {
            o.receipt = r;
            acked++;
          },
          (err: unknown) => {
            o.error = err;
          },
        ),
      );
      if (i % 50 === 49) await delay(100);
    }
  })();

  // Mid-stream: ingest is consuming (the warm-up is stored) and a quarter of the events are acknowledged.
  await waitFor(
    'a quarter of the events acknowledged',
    () => acked,
    (n) => n >= TOTAL / 4,
    240_000,
    50,
  );
  await cluster.kill(victim);
  const killedAt = outcomes.length;
  killed();

  // Failover: the survivors lead every partition while the victim is away.
  const during = await waitFor(
    `leadership of partitions ${led.join(', ')} moved off broker ${victimId}`,
    leaders,
    (m) => m.size === PARTITIONS && [...m.values()].every((l) => l !== victimId && l >= 0),
    120_000,
    500,
  );
  await publisher;
  await Promise.all(settling);
  assert.deepEqual(await producer.close({ timeout_ms: 10_000 }), { undelivered: 0, undelivered_event_ids: [] });
  assert.deepEqual(await cluster.restore(), [victim]);

  // Every publish settled, one way or the other, and the rejections are the SDK's typed errors.
  const ok = outcomes.filter((o) => o.receipt);
  const rejected = outcomes.filter((o) => o.error);
  assert.equal(outcomes.length, TOTAL);
  assert.equal(ok.length + rejected.length, TOTAL, 'acknowledged + rejected = published');
  const byCode = new Map<string, number>();
  for (const o of rejected) {
    assert.ok(o.error instanceof AuditstreamError, `rejected with an AuditstreamError: ${String(o.error)}`);
    assert.ok((PRODUCER_ERROR_CODES as readonly string[]).includes(o.error.code), `a producer error code: ${o.error.code}`);
    byCode.set(o.error.code, (byCode.get(o.error.code) ?? 0) + 1);
  }
  assert.ok(
    outcomes.slice(killedAt).some((o) => o.receipt),
    'events published after the kill were acknowledged by the survivors',
  );

  // Ingest read the whole topic (acknowledged events and any maybe-delivered ones) and committed it.
  await waitForStored(env, ok.length, { timeoutMs: 300_000 });
  const inTopic = await topicTotal();
  await waitFor(
    'ingest committed the whole topic',
    () => committedTotal(env.kafka, env.group, env.topic),
    (n) => n >= inTopic,
    300_000,
    500,
  );

  // Through the Distributed table: each event_id with the number of its rows after FINAL. A row is
  // keyed by its Kafka message (schema.ts EVENTS_ORDER_BY), so FINAL folds ingest's and ClickHouse's
  // re-deliveries of one message, but not two messages of one event: an SDK attempt that reached the
  // broker before the kill and was re-sent under a new producer id (sender.ts) is two messages. The
  // project's queries show such an event once (queries.ts: uniqExact / LIMIT 1 BY event_id).
  const rows = await env.ch.queryRows<{ id: string; n: string }>(
    `SELECT toString(event_id) AS id, count() AS n FROM ${env.database}.events FINAL WHERE tenant_id = '${env.tenant}' GROUP BY id`,
  );
  const stored = new Map(rows.map((r) => [r.id, Number(r.n)]));
  const storedRows = rows.reduce((sum, r) => sum + Number(r.n), 0);
  assert.equal(storedRows, inTopic, 'one row per message in the topic: ingest and ClickHouse lost and duplicated none');
  assert.equal(await countStored(env.ch, env.tenant), stored.size, "the project's count query shows each event once");
  const resent = [...stored].filter(([, n]) => n > 1);
  const missing = ok.filter((o) => !stored.has(o.event_id));
  assert.equal(missing.length, 0, `every acknowledged event is stored (${missing.length} missing)`);
  const published = new Set(outcomes.map((o) => o.event_id));
  assert.deepEqual(
    [...stored.keys()].filter((id) => !published.has(id)),
    [],
    'nothing stored that was not published',
  );
  const neverSent = rejected.filter((o) => {
    const e = o.error as AuditstreamError;
    return e.code === 'PRODUCER_BUFFER_FULL' || e.details?.maybe_delivered === false;
  });
  assert.deepEqual(
    neverSent.filter((o) => stored.has(o.event_id)).map((o) => o.event_id),
    [],
    'events rejected as never sent are not stored',
  );
  const counts = await rowCounts(env.ch, env.database, env.tenant);
  assert.equal(counts.final, storedRows, 'FINAL shows each message once');
  assert.equal(counts.distinct, stored.size);

  const perServer = await Promise.all(cluster.layout.clickhouse.map((c) => cluster.localCount(c.httpPort, env.database, env.tenant)));
  assert.equal(perServer[0], perServer[1], `shard 1 replicas agree: ${perServer.join(', ')}`);
  assert.equal(perServer[2], perServer[3], `shard 2 replicas agree: ${perServer.join(', ')}`);
  assert.equal((perServer[0] as number) + (perServer[2] as number), storedRows, 'the shards split the rows without overlap');

  const report = await verifyTestEnv(env);
  assert.equal(report.ok, true, JSON.stringify(report).slice(0, 2000));
  const firstRejection = rejected[0]?.error as AuditstreamError | undefined;
  if (firstRejection)
    console.log(
      `broker-kill: first rejection: ${firstRejection.code} retriable=${firstRejection.retriable} ${firstRejection.message} ${JSON.stringify(firstRejection.details)}; cause: ${String((firstRejection.cause as Error)?.message ?? firstRejection.cause)}`,
    );
  console.log(
    `broker-kill: killed ${victim} (led partitions ${led.join(', ')}; after: ${JSON.stringify([...during])}) after ${killedAt} of ${TOTAL} published; ` +
      `${ok.length} acknowledged, ${rejected.length} rejected (${[...byCode].map(([c, n]) => `${n} ${c}`).join(', ') || 'none'}); ${stored.size} events stored, ` +
      `${resent.length} of them twice in Kafka (re-sent by the SDK after the kill)`,
  );
});
