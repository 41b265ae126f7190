import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  type AuditEventInput,
  type ClickHouse,
  createClickHouse,
  type EventRow,
  eventColumns,
  fromRow,
  insertRows,
  layoutFor,
  migrate,
  toRow,
} from '@auditstream/clickhouse';
import { uniqueName, uuidv7 } from '@auditstream/core';
import {
  chainContentFromRow,
  chainContentFromStored,
  createChainedInsert,
  createChainer,
  createCheckpointer,
  generateSigningKey,
  kafkaCheckpointPublisher,
  loadPublicKeys,
  loadSigningKey,
  recordDlqDecisions,
  verifyStore,
} from '@auditstream/integrity';
import { deleteTopics } from '@auditstream/kafka';
import { createLogger, createMetricsRegistry } from '@auditstream/observability';
import { testConfig, testKafka } from '@auditstream/test';
import type { Kafka, Producer } from 'kafkajs';

// The chain against the real ClickHouse (18.16 in the local stack): what ingest hashes is what
// verify reads back, a re-delivered range reproduces byte-identical rows, and a clean store verifies.

const cfg = testConfig();
const logger = createLogger({ service: 'integrity-chain-test', level: 'warn' });
const DB = uniqueName('integrity_chain');
const EVENTS = uniqueName('it.events');
const CHECKPOINTS = uniqueName('it.checkpoints');
const pair = generateSigningKey();
const key = loadSigningKey(pair.privatePem, 'test');
const keys = loadPublicKeys([pair.publicPem]);
let ch: ClickHouse;
let kafka: Kafka;
let producer: Producer;

const NASTY = ['', 'plain', 'quote \' " backslash \\ end', 'tab\tnew\nline\r\u0000nul\u0007bell\u007f', 'Zoë 東京 🙂 עברית \u2028\u2029', '\\x41 \\u0041'];

const ids = new Map<number, string>();
function event(i: number): AuditEventInput {
  const s = NASTY[i % NASTY.length] as string;
  if (!ids.has(i)) ids.set(i, uuidv7(1_750_000_000_000 + i)); // a re-delivered message is the same event
  return {
    event_id: ids.get(i) as string,
    tenant_id: `tenant-${i % 3}`,
    occurred_at: 1_750_000_000_000_000 + i * 1_000_037,
    actor: { id: `user-${i % 11}`, type: i % 5 ? 'user' : 'service', name: s || null, ip: i % 2 ? '203.0.113.7' : null, user_agent: i % 4 ? `UA ${s}` : null },
    action: i % 2 ? 'auth.login' : 'document.read',
    category: i % 2 ? 'authentication' : 'resource_access',
    outcome: i % 7 ? 'success' : 'failure',
    reason: i % 3 ? null : s,
    service: 'it',
    resource: i % 2 ? null : { type: 'document', id: `doc-${i}`, name: s || null },
    severity: i % 13 ? null : 'high',
    attributes: i % 4 ? { z: s, a: String(i), é: 'x', '\u{1F600}k': 'astral', '\uFFFDk': 'bmp' } : {},
  };
}

async function buildRows(partition: number, from: number, to: number, skip: ReadonlySet<number> = new Set()): Promise<EventRow[]> {
  const layout = layoutFor(await ch.capabilities());
  const rows: EventRow[] = [];
  for (let o = from; o <= to; o++) {
    if (skip.has(o)) continue;
    const receivedMs = 1_750_000_000_000 + o * 997 + 123; // not whole seconds: stored as seconds on 18.16
    rows.push(
      toRow(
        event(partition * 100_000 + o),
        { received_at: receivedMs, ingested_at: receivedMs, kafka_topic: EVENTS, kafka_partition: partition, kafka_offset: o },
        layout,
      ),
    );
  }
  return rows;
}

before(async () => {
  ch = createClickHouse({ ...cfg.clickhouse, database: DB }, { logger });
  await migrate(ch);
  kafka = testKafka('integrity-chain');
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: CHECKPOINTS, numPartitions: 1 }], waitForLeaders: true });
  await admin.disconnect();
  producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
});

after(async () => {
  await producer?.disconnect();
  await deleteTopics(kafka, [CHECKPOINTS]);
  await ch.command(`DROP DATABASE IF EXISTS ${DB}`);
  await ch.close();
});

test('what the chainer hashes is what ClickHouse gives back, field for field (unicode, control characters, optional fields)', async () => {
  const rows = await buildRows(9, 0, 59);
  const chainer = createChainer({ ch });
  await chainer.chainRows(rows);
  await insertRows(ch, rows);
  const caps = await ch.capabilities();
  const back = await ch.queryRows<Record<string, unknown>>(
    `SELECT ${eventColumns(layoutFor(caps)).join(', ')} FROM ${DB}.events WHERE kafka_partition = 9 ORDER BY kafka_offset`,
  );
  assert.equal(back.length, rows.length);
  back.forEach((raw, i) => {
    const stored = fromRow(raw);
    assert.deepEqual(chainContentFromStored(stored), chainContentFromRow(rows[i] as EventRow), `offset ${i}`);
    assert.equal(stored.meta.hash, rows[i]?.hash);
  });
});

test('ingest-like writes (chain, insert, checkpoints, DLQ decisions), a crash re-delivery, then a clean verification', async () => {
  const registry = createMetricsRegistry({ service: 'test', defaultMetrics: false });
  const chainer = createChainer({ ch, metrics: registry, logger });
  const checkpointer = createCheckpointer({
    ch,
    publisher: kafkaCheckpointPublisher(producer, CHECKPOINTS),
    signingKey: key,
    everyEvents: 200,
    intervalMs: 3_600_000,
    metrics: registry,
    logger,
  });
  const insert = createChainedInsert({ chainer, checkpointer, insert: (rows) => insertRows(ch, rows) });
  const dlq = new Set([17, 250, 251, 999]);
  for (const partition of [0, 1]) {
    await chainer.loadHead(EVENTS, partition);
    await checkpointer.assign(EVENTS, partition);
    for (let from = 0; from < 1000; from += 100) {
      const batch = await buildRows(partition, from, from + 99, dlq);
      await insert(batch);
      // The count-triggered signing runs beside the next insert; waiting for it here keeps one
      // checkpoint per 200 offsets instead of letting two triggers coalesce into one.
      if ((from + 100) % 200 === 0) await checkpointer.flush(EVENTS, partition);
      const dead = [...dlq].filter((o) => o >= from && o < from + 100);
      await recordDlqDecisions(
        ch,
        dead.map((o) => ({ topic: EVENTS, partition, offset: o, reason: 'not_avro', value: Buffer.from(`poison ${o}`) })),
      );
    }
  }
  await checkpointer.stop();
  assert.match(await registry.metrics(), /auditstream_ingest_checkpoints_signed_total\{[^}]*\} 10/);

  // A crash after the INSERT of offsets 800..999 of partition 1, before the commit: a new
  // instance resumes at 800 and gets the stored values back; the rows are byte-identical.
  const again = createChainer({ ch, metrics: registry });
  await again.loadHead(EVENTS, 1);
  const redelivered = await buildRows(1, 800, 999, dlq);
  const links = await again.chainRows(redelivered);
  assert.deepEqual(new Set(links.map((l) => l.status)), new Set(['stored']));
  const stored = await ch.queryRows<Record<string, unknown>>(
    `SELECT hash, prev_hash, toString(chain_seq) AS chain_seq FROM ${DB}.events WHERE kafka_topic = '${EVENTS}' AND kafka_partition = 1 AND kafka_offset >= 800 ORDER BY kafka_offset`,
  );
  assert.deepEqual(
    stored.map((r) => [r.chain_seq, r.prev_hash, r.hash]),
    redelivered.map((r) => [r.chain_seq, r.prev_hash, r.hash]),
  );
  await insertRows(ch, redelivered);
  assert.match(await registry.metrics(), /auditstream_ingest_chain_redelivered_total\{status="stored"[^}]*\} 199/);

  const progress: number[] = [];
  const report = await verifyStore({
    ch,
    publicKeys: keys,
    kafka,
    checkpointsTopic: CHECKPOINTS,
    topic: EVENTS,
    partitions: [0, 1],
    onProgress: (p) => progress.push(p.total_rows),
  });
  assert.deepEqual(report.findings, []);
  assert.equal(report.ok, true);
  assert.equal(report.partitions.length, 2);
  assert.equal(report.entries, 2 * 996);
  assert.equal(report.duplicates, 199);
  for (const p of report.partitions) {
    assert.equal(p.checkpoints, 5);
    assert.equal(p.checkpoints_matched, 5);
    assert.equal(p.checkpoints_in_topic, 5);
    assert.equal(p.last_offset, '998');
  }
  assert.equal(progress.length >= 2, true);
});
