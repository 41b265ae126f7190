import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import {
  type AuditEventInput,
  applyRetention,
  type ClickHouse,
  createClickHouse,
  type EventRow,
  eventColumns,
  fromRow,
  insertRows,
  type Layout,
  layoutFor,
  migrate,
  parseRetentionPolicy,
  type StoredEvent,
  toRow,
} from '@auditstream/clickhouse';
import { repoRoot, sleep, uniqueName, uuidv7 } from '@auditstream/core';
import {
  type Checkpoint,
  chainContentFromRow,
  checkpointHash,
  createChainedInsert,
  createChainer,
  createCheckpointer,
  entryHash,
  generateSigningKey,
  kafkaCheckpointPublisher,
  loadPublicKeys,
  loadSigningKey,
  recordDlqDecisions,
  signCheckpoint,
  type VerifyReport,
  type VerifyStoreOptions,
  verifyStore,
} from '@auditstream/integrity';
import { deleteTopics, withAdmin } from '@auditstream/kafka';
import { createLogger } from '@auditstream/observability';
import { testConfig, testKafka } from '@auditstream/test';
import type { Kafka, Producer } from 'kafkajs';

// Tamper evidence against the real ClickHouse 18.16 and Kafka: a chain of 3,000 events in two
// partitions (checkpoints signed every 200 events, table + topic, a key rotation half-way through
// partition 1), then each tampering an attacker with database access could do, each on its own
// copy of the database, and what `verify` names as the first broken link.

const run = promisify(execFile);
const cfg = testConfig();
const logger = createLogger({ service: 'integrity-tamper-test', level: 'error' });
const BASE = uniqueName('integrity_base');
const EVENTS = uniqueName('it.events');
const CHECKPOINTS = uniqueName('it.checkpoints');
const GROUP = uniqueName('it.ingest');
const PER_PARTITION = 1500;
const DLQ: Record<number, readonly number[]> = { 0: [100, 700, 701], 1: [42] };
const keyA = generateSigningKey();
const keyB = generateSigningKey(); // partition 1 rotates to it at offset 750
const bothKeys = loadPublicKeys([keyA.publicPem, keyB.publicPem]);
const T0_MS = 1_760_000_000_000;
const occurredMs = (partition: number, offset: number) => T0_MS + partition * 10_000_000 + offset * 1000;

let admin: ClickHouse;
let kafka: Kafka;
let producer: Producer;
let layout: Layout;
const created: string[] = [];

const ids = new Map<string, string>();
function event(partition: number, offset: number): AuditEventInput {
  const k = `${partition}:${offset}`;
  if (!ids.has(k)) ids.set(k, uuidv7(occurredMs(partition, offset)));
  return {
    event_id: ids.get(k) as string,
    tenant_id: `tenant-${offset % 3}`,
    occurred_at: occurredMs(partition, offset) * 1000 + (offset % 1000),
    actor: { id: `user-${offset % 17}`, type: 'user', ip: `198.51.100.${offset % 250}`, name: offset % 5 ? 'Zoë' : null },
    action: offset % 2 ? 'auth.login' : 'document.read',
    category: offset % 2 ? 'authentication' : 'resource_access',
    outcome: offset % 7 ? 'success' : 'failure',
    service: 'billing',
    resource: offset % 2 ? null : { type: 'document', id: `doc-${offset % 40}` },
    attributes: { n: String(offset) },
  };
}

function row(partition: number, offset: number): EventRow {
  const received = occurredMs(partition, offset) + 250;
  return toRow(
    event(partition, offset),
    { received_at: received, ingested_at: received, kafka_topic: EVENTS, kafka_partition: partition, kafka_offset: offset },
    layout,
  );
}

async function waitMutations(db: string): Promise<void> {
  for (;;) {
    const [r] = await admin.queryRows<{ n: string }>(`SELECT count() AS n FROM system.mutations WHERE database = '${db}' AND is_done = 0`);
    if (Number(r?.n ?? 0) === 0) return;
    await sleep(100);
  }
}

/** A copy of the base database to tamper with. */
async function scenario(name: string): Promise<{ db: string; ch: ClickHouse }> {
  const db = uniqueName(`integrity_${name}`);
  created.push(db);
  await migrate(admin, { database: db });
  for (const t of ['events', 'checkpoints', 'dlq_decisions']) await admin.command(`INSERT INTO ${db}.${t} SELECT * FROM ${BASE}.${t}`);
  return { db, ch: createClickHouse({ ...cfg.clickhouse, database: db }, { logger }) };
}

async function storedAt(ch: ClickHouse, partition: number, offset: number): Promise<StoredEvent> {
  const rows = await ch.queryRows<Record<string, unknown>>(
    `SELECT ${eventColumns(layout).join(', ')} FROM ${ch.database}.events WHERE kafka_topic = '${EVENTS}' AND kafka_partition = ${partition} AND kafka_offset = ${offset} LIMIT 1`,
  );
  assert.equal(rows.length, 1, `a row at ${partition}:${offset}`);
  return fromRow(rows[0] as Record<string, unknown>);
}

/** What an attacker with the public algorithm does: a row with chosen content and chain values, hashed correctly. */
function forge(s: StoredEvent, over: { offset?: string; event?: Partial<AuditEventInput>; chain_seq: string; prev_hash: string }): EventRow {
  const r = toRow({ ...s.event, ...over.event } as AuditEventInput, { ...s.meta, kafka_offset: over.offset ?? s.meta.kafka_offset, chain_seq: 0 }, layout);
  r.chain_seq = over.chain_seq;
  r.prev_hash = over.prev_hash;
  r.hash = entryHash({ ...chainContentFromRow(r), chain_seq: r.chain_seq, prev_hash: r.prev_hash });
  return r;
}

function verify(ch: ClickHouse, over: Partial<VerifyStoreOptions> = {}): Promise<VerifyReport> {
  return verifyStore({ ch, publicKeys: bothKeys, kafka, checkpointsTopic: CHECKPOINTS, topic: EVENTS, ...over });
}

before(async () => {
  admin = createClickHouse({ ...cfg.clickhouse, database: BASE }, { logger });
  layout = layoutFor(await admin.capabilities());
  await migrate(admin);
  created.push(BASE);
  kafka = testKafka('integrity-tamper');
  const kadmin = kafka.admin();
  await kadmin.connect();
  await kadmin.createTopics({
    topics: [
      { topic: EVENTS, numPartitions: 2 },
      { topic: CHECKPOINTS, numPartitions: 1 },
    ],
    waitForLeaders: true,
  });
  producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  // The events topic holds as many messages as the chain covers: its high watermark is real.
  for (const partition of [0, 1])
    for (let i = 0; i < PER_PARTITION; i += 500)
      await producer.send({ topic: EVENTS, acks: -1, messages: Array.from({ length: 500 }, () => ({ partition, value: 'x' })) });
  // Ingest's consumer group committed everything (so everything below was stored or dead-lettered).
  await kadmin.setOffsets({
    groupId: GROUP,
    topic: EVENTS,
    partitions: [
      { partition: 0, offset: String(PER_PARTITION) },
      { partition: 1, offset: String(PER_PARTITION) },
    ],
  });
  await kadmin.disconnect();

  // Ingest, as it will run: chain + INSERT + checkpoints (clock = event time + 2 s), DLQ decisions.
  let clock = T0_MS;
  const chainer = createChainer({ ch: admin });
  const signers = [loadSigningKey(keyA.privatePem, 'a'), loadSigningKey(keyB.privatePem, 'b')];
  const checkpointer = (k: 0 | 1) =>
    createCheckpointer({
      ch: admin,
      publisher: kafkaCheckpointPublisher(producer, CHECKPOINTS),
      signingKey: signers[k] as ReturnType<typeof loadSigningKey>,
      everyEvents: 200,
      intervalMs: 3_600_000,
      now: () => clock,
    });
  for (const partition of [0, 1]) {
    let cp = checkpointer(0);
    let insert = createChainedInsert({ chainer, checkpointer: cp, insert: (rows) => insertRows(admin, rows) });
    await cp.assign(EVENTS, partition);
    for (let from = 0; from < PER_PARTITION; from += 250) {
      if (partition === 1 && from === 750) {
        await cp.stop();
        cp = checkpointer(1); // key rotation: the new signer links to the old key's last checkpoint
        await cp.assign(EVENTS, partition);
        insert = createChainedInsert({ chainer, checkpointer: cp, insert: (rows) => insertRows(admin, rows) });
      }
      const dead = (DLQ[partition] ?? []).filter((o) => o >= from && o < from + 250);
      const rows: EventRow[] = [];
      for (let o = from; o < from + 250; o++) if (!dead.includes(o)) rows.push(row(partition, o));
      clock = occurredMs(partition, from + 249) + 2000;
      await insert(rows);
      await recordDlqDecisions(
        admin,
        dead.map((o) => ({ topic: EVENTS, partition, offset: o, reason: 'not_avro', value: Buffer.from(`poison ${o}`) })),
      );
      await cp.flush(EVENTS, partition).catch(() => {});
    }
    await cp.stop();
  }
});

after(async () => {
  await producer?.disconnect();
  try {
    await deleteTopics(kafka, [EVENTS, CHECKPOINTS]);
  } finally {
    await withAdmin(kafka, (kadmin) => kadmin.deleteGroups([GROUP])).catch(() => {});
    for (const db of created) await admin.command(`DROP DATABASE IF EXISTS ${db}`);
    await admin.close();
  }
});

describe('tamper evidence on the real ClickHouse and Kafka', () => {
  test('the untouched chain verifies: every checkpoint matched (two keys), dead-lettered offsets explained', async () => {
    const { ch } = await scenario('clean');
    const r = await verify(ch, { ingestGroupId: GROUP });
    assert.deepEqual(r.findings, []);
    assert.equal(r.ok, true);
    assert.equal(r.entries, 2 * PER_PARTITION - 4);
    for (const p of r.partitions) {
      assert.equal(p.checkpoints_matched, p.checkpoints);
      assert.equal(p.checkpoints_in_topic, p.checkpoints);
      assert.equal(p.high_watermark, String(PER_PARTITION));
      assert.equal(p.committed_offset, String(PER_PARTITION));
    }
    assert.deepEqual(
      r.partitions.map((p) => p.checkpoints),
      [6, 6],
    );
  });

  test('a modified field (ALTER TABLE … UPDATE) is named with its partition, offset and event id', async () => {
    const { db, ch } = await scenario('modified');
    const victim = await storedAt(ch, 0, 500);
    // 18.16 cannot UPDATE an Enum column (no supertype of String and Enum8), nor a key column: a String one then.
    await ch.command(`ALTER TABLE ${db}.events UPDATE reason = 'approved by admin' WHERE kafka_partition = 0 AND kafka_offset = 500`);
    await waitMutations(db);
    const r = await verify(ch);
    assert.equal(r.ok, false);
    assert.equal(r.first_error?.kind, 'modified');
    assert.equal(r.first_error?.partition, 0);
    assert.equal(r.first_error?.offset, '500');
    assert.equal(r.first_error?.event_id, victim.event.event_id);
    assert.match(r.first_error?.detail ?? '', /does not match its stored hash/);
    assert.equal(r.errors, 1);
  });

  test('a deleted row (ALTER TABLE … DELETE) is found at the next row, with the gap named', async () => {
    const { db, ch } = await scenario('deleted');
    await ch.command(`ALTER TABLE ${db}.events DELETE WHERE kafka_partition = 1 AND kafka_offset = 900`);
    await waitMutations(db);
    const r = await verify(ch);
    assert.equal(r.first_error?.kind, 'deleted');
    assert.equal(r.first_error?.partition, 1);
    assert.equal(r.first_error?.offset, '901');
    assert.match(r.first_error?.detail ?? '', /1 chain entry is missing between offsets 899 and 901/);
  });

  test('a forged row inserted at a free (dead-lettered) offset, hashed and linked correctly, is not part of the chain', async () => {
    const { ch } = await scenario('inserted');
    const prev = await storedAt(ch, 0, 699);
    const forged = forge(prev, {
      offset: '700',
      event: { event_id: uuidv7(), actor: { ...prev.event.actor, id: 'mallory' }, outcome: 'success' },
      chain_seq: String(BigInt(prev.meta.chain_seq) + 1n),
      prev_hash: prev.meta.hash,
    });
    await insertRows(ch, [forged]);
    const r = await verify(ch);
    assert.equal(r.first_error?.kind, 'inserted');
    assert.equal(r.first_error?.offset, '700');
    assert.equal(r.first_error?.event_id, forged.event_id);
    assert.equal(r.errors, 1);
  });

  test('a forged row after the end of the chain is caught by the events topic’s high watermark', async () => {
    const { ch } = await scenario('appended');
    const last = await storedAt(ch, 1, PER_PARTITION - 1);
    const forged = forge(last, {
      offset: String(PER_PARTITION),
      event: { event_id: uuidv7() },
      chain_seq: String(BigInt(last.meta.chain_seq) + 1n),
      prev_hash: last.meta.hash,
    });
    await insertRows(ch, [forged]);
    const r = await verify(ch);
    assert.equal(r.first_error?.kind, 'inserted');
    assert.equal(r.first_error?.offset, String(PER_PARTITION));
    assert.match(r.first_error?.detail ?? '', /Kafka never assigned offset 1500/);
  });

  test('two rows swapped in Kafka order, re-hashed, are reported as reordered', async () => {
    const { db, ch } = await scenario('reordered');
    const a = await storedAt(ch, 1, 300);
    const b = await storedAt(ch, 1, 301);
    const a2 = forge(a, { offset: '301', chain_seq: a.meta.chain_seq, prev_hash: a.meta.prev_hash });
    const b2 = forge(b, { offset: '300', chain_seq: b.meta.chain_seq, prev_hash: b.meta.prev_hash });
    await ch.command(`ALTER TABLE ${db}.events DELETE WHERE kafka_partition = 1 AND kafka_offset IN (300, 301)`);
    await waitMutations(db);
    await insertRows(ch, [a2, b2]);
    const r = await verify(ch);
    assert.equal(r.first_error?.kind, 'reordered');
    assert.equal(r.first_error?.partition, 1);
    assert.equal(r.first_error?.offset, '300');
  });

  test('a row rewritten with the rest of the chain re-hashed links again, but the next signed checkpoint does not match', async () => {
    const { db, ch } = await scenario('rebuilt');
    const rows = await ch.queryRows<Record<string, unknown>>(
      `SELECT ${eventColumns(layout).join(', ')} FROM ${db}.events WHERE kafka_partition = 0 AND kafka_offset >= 1000 ORDER BY kafka_offset`,
    );
    let prevHash = '';
    const rebuilt = rows.map((raw, i) => {
      const s = fromRow(raw);
      const r = forge(s, {
        ...(i === 0 ? { event: { outcome: 'success' as const, actor: { ...s.event.actor, id: 'someone-else' } } } : {}),
        chain_seq: s.meta.chain_seq,
        prev_hash: i === 0 ? s.meta.prev_hash : prevHash,
      });
      prevHash = r.hash;
      return r;
    });
    await ch.command(`ALTER TABLE ${db}.events DELETE WHERE kafka_partition = 0 AND kafka_offset >= 1000`);
    await waitMutations(db);
    await insertRows(ch, rebuilt);
    const cps = await ch.queryRows<{ o: string }>(
      `SELECT toString(min(last_offset)) AS o FROM ${db}.checkpoints WHERE \`partition\` = 0 AND last_offset >= 1000`,
    );
    const r = await verify(ch);
    assert.equal(r.first_error?.kind, 'checkpoint_mismatch');
    assert.equal(r.first_error?.offset, cps[0]?.o);
    assert.match(r.first_error?.detail ?? '', /the chain up to here was rewritten/);
  });

  test('a checkpoint signed with a key that is not trusted is rejected as forged', async () => {
    const { ch } = await scenario('forged_cp');
    const [found] = await ch.queryRows<Record<string, unknown>>(
      `SELECT topic, \`partition\`, toString(last_offset) AS lo, toString(chain_seq) AS cs, chain_head, toUnixTimestamp(created_at) AS cat, prev_checkpoint_hash, key_id, signature
       FROM ${ch.database}.checkpoints WHERE \`partition\` = 0 ORDER BY last_offset DESC LIMIT 1`,
    );
    const last = found as Record<string, unknown>;
    const prevCp: Checkpoint = {
      topic: String(last.topic),
      partition: 0,
      last_offset: String(last.lo),
      chain_seq: String(last.cs),
      chain_head: String(last.chain_head),
      created_at_s: Number(last.cat),
      prev_checkpoint_hash: String(last.prev_checkpoint_hash),
      key_id: String(last.key_id),
      signature: String(last.signature),
    };
    const mallory = loadSigningKey(generateSigningKey().privatePem, 'mallory');
    const forged = signCheckpoint(mallory, {
      topic: EVENTS,
      partition: 0,
      last_offset: '1600',
      chain_seq: '1597',
      chain_head: 'a'.repeat(64),
      created_at_s: prevCp.created_at_s + 60,
      prev_checkpoint_hash: checkpointHash(prevCp),
    });
    await ch.insertJson('checkpoints', [{ ...forged, created_at: forged.created_at_s, created_at_s: undefined } as unknown as Record<string, unknown>], {
      columns: ['topic', 'partition', 'last_offset', 'chain_seq', 'chain_head', 'created_at', 'prev_checkpoint_hash', 'key_id', 'signature'],
    });
    const r = await verify(ch);
    assert.equal(r.first_error?.kind, 'checkpoint_forged');
    assert.equal(r.first_error?.offset, '1600');
    assert.match(r.first_error?.detail ?? '', new RegExp(`signed with key ${mallory.keyId}, which is not a trusted key`));
    // With only the first key, partition 1's checkpoints after the rotation are not trusted either.
    const onlyA = await verify(ch, { publicKeys: loadPublicKeys([keyA.publicPem]), partitions: [1] });
    assert.equal(onlyA.first_error?.kind, 'checkpoint_forged');
  });

  test('an altered checkpoint (ALTER TABLE … UPDATE chain_head) fails its signature; the Kafka copy shows the table lost the original', async () => {
    const { db, ch } = await scenario('altered_cp');
    const [c] = await ch.queryRows<{ o: string }>(
      `SELECT toString(last_offset) AS o FROM ${db}.checkpoints WHERE \`partition\` = 1 ORDER BY last_offset LIMIT 1 OFFSET 1`,
    );
    await ch.command(`ALTER TABLE ${db}.checkpoints UPDATE chain_head = '${'b'.repeat(64)}' WHERE \`partition\` = 1 AND last_offset = ${c?.o}`);
    await waitMutations(db);
    const r = await verify(ch);
    assert.equal(r.first_error?.kind, 'checkpoint_altered');
    assert.equal(r.first_error?.offset, c?.o);
    assert.match(r.first_error?.detail ?? '', /does not verify: it was altered after signing/);
    assert.equal(
      r.findings.filter((f) => f.kind === 'checkpoint_altered' && /missing from \(or different in\) the checkpoints table/.test(f.detail)).length,
      1,
    );
  });

  test('rows deleted at the end together with the checkpoints covering them: the Kafka topic and the committed offsets prove they existed', async () => {
    const { db, ch } = await scenario('tail');
    await ch.command(`ALTER TABLE ${db}.events DELETE WHERE kafka_partition = 0 AND kafka_offset > 1200`);
    await ch.command(`ALTER TABLE ${db}.checkpoints DELETE WHERE \`partition\` = 0 AND last_offset > 1200`);
    await waitMutations(db);
    // Without Kafka the table alone is consistent: that is what the topic is for.
    const blind = await verifyStore({ ch, publicKeys: bothKeys, topic: EVENTS });
    assert.equal(blind.ok, true);
    const r = await verify(ch);
    assert.equal(r.ok, false);
    const missing = r.findings.find((f) => f.kind === 'missing_after_checkpoint');
    assert.equal(missing?.partition, 0);
    assert.match(missing?.detail ?? '', /signed checkpoints? covers? offsets up to 1499 .* but the stored chain ends at offset 1200/);
    assert.notEqual(r.findings.filter((f) => f.kind === 'checkpoint_altered' && f.partition === 0).length, 0);
    const withGroup = await verify(ch, { ingestGroupId: GROUP });
    assert.equal(withGroup.first_error?.kind, 'missing_before_commit');
    assert.equal(withGroup.first_error?.offset, '1201');
  });

  test('partial verification: a time range is verified between the nearest signed checkpoints; a tenant filter keeps the chain whole', async () => {
    const { db, ch } = await scenario('partial');
    const from = new Date(occurredMs(0, 600));
    const to = new Date(occurredMs(0, 800));
    const clean = await verify(ch, { partitions: [0], from, to, marginMs: 1000 });
    assert.deepEqual(clean.findings, []);
    const span = clean.partitions[0]?.span;
    assert.equal(typeof span?.anchored_on_checkpoint, 'string', 'anchored on a checkpoint before the range');
    assert.equal(typeof span?.ends_at_checkpoint, 'string', 'ends at a checkpoint after the range');
    assert.equal(clean.rows < PER_PARTITION / 2, true, `read ${clean.rows} rows, not the whole partition`);
    // Tampering outside the span is not in this run's scope; inside it, it is found.
    await ch.command(`ALTER TABLE ${db}.events UPDATE reason = 'approved by admin' WHERE kafka_partition = 0 AND kafka_offset IN (102, 698)`);
    await waitMutations(db);
    const inRange = await verify(ch, { partitions: [0], from, to, marginMs: 1000 });
    assert.deepEqual(
      inRange.findings.map((f) => [f.kind, f.offset]),
      [['modified', '698']],
    );
    const tenant = (await storedAt(ch, 0, 698)).event.tenant_id;
    assert.deepEqual([tenant, (await storedAt(ch, 0, 102)).event.tenant_id], ['tenant-2', 'tenant-0']);
    const other = await verify(ch, { partitions: [0], tenant: 'tenant-1' });
    assert.equal(other.ok, true, 'row findings of other tenants are not reported');
    const mine = await verify(ch, { partitions: [0], tenant });
    assert.deepEqual(
      mine.findings.map((f) => f.offset),
      ['698'],
    );
  });

  test('the CLI: keys generate, verify --json exits 0 on a clean store and 1 naming the first broken link', async () => {
    const cli = join(repoRoot(), 'node_modules', '.bin', 'auditstream');
    const dir = mkdtempSync(join(tmpdir(), 'auditstream-verify-'));
    const gen = await run(cli, ['keys', 'generate', '--out-dir', join(dir, 'new')]);
    assert.match(gen.stdout.trim(), /^[0-9a-f]{16}$/);
    const keysDir = join(dir, 'trusted');
    await run('mkdir', ['-p', keysDir]);
    writeFileSync(join(keysDir, 'a.pem'), keyA.publicPem);
    writeFileSync(join(keysDir, 'b.pem'), keyB.publicPem);
    const env = { ...process.env, AUDITSTREAM_TOPICS__CHECKPOINTS: CHECKPOINTS };
    const { db } = await scenario('cli');
    const args = ['verify', '--json', '--public-key', keysDir, '--database', db, '--topic', EVENTS, '--ingest-group', GROUP];
    const ok = await run(cli, args, { env });
    const report = JSON.parse(ok.stdout) as VerifyReport;
    assert.equal(report.ok, true);
    assert.match(ok.stderr, /events\/s/);
    await admin.command(`ALTER TABLE ${db}.events DELETE WHERE kafka_partition = 0 AND kafka_offset = 333`);
    await waitMutations(db);
    const bad = await run(cli, args, { env }).then(
      () => assert.fail('verify should exit non-zero'),
      (e: { code: number; stdout: string }) => e,
    );
    assert.equal(bad.code, 1);
    const failed = JSON.parse(bad.stdout) as VerifyReport;
    assert.equal(failed.first_error?.kind, 'deleted');
    assert.equal(failed.first_error?.offset, '334');
    const human = await run(
      cli,
      args.filter((a) => a !== '--json'),
      { env },
    ).catch((e: { stdout: string }) => e);
    assert.match(human.stdout, /FAILED: 1 error/);
    assert.match(human.stdout, /First broken link:\n {2}error {3}deleted .*\[0\] offset 334 event [0-9a-f-]{36}: 1 chain entry is missing/);
  });

  // Partition 1 went quiet after its events (October 2025); the retention record goes to partition 0, chained and
  // signed like any event. Last in this file: it appends a message to the events topic.
  test('every row of a partition deleted, or its oldest, with a forged retention record still fails; retention removing them is a chain_expired warning', async () => {
    const { db, ch } = await scenario('emptied');
    // Also the oldest ten rows of partition 0: truncated, which no trusted run explains.
    await ch.command(`ALTER TABLE ${db}.events DELETE WHERE kafka_partition = 1 OR (kafka_partition = 0 AND kafka_offset < 10)`);
    await waitMutations(db);
    // The attacker also appends a correctly hashed retention record whose cut-off would explain partition 1.
    const last = await storedAt(ch, 0, PER_PARTITION - 1);
    const claim = { dry_run: 'false', mode: 'partitions', events_cutoff: new Date(Date.now() - 86_400_000).toISOString() };
    await insertRows(ch, [
      forge(last, {
        offset: String(PER_PARTITION),
        event: { event_id: uuidv7(), action: 'retention.apply', category: 'admin', outcome: 'success', occurred_at: Date.now() * 1000, attributes: claim },
        chain_seq: String(BigInt(last.meta.chain_seq) + 1n),
        prev_hash: last.meta.hash,
      }),
    ]);
    const attacked = await verify(ch, { ingestGroupId: GROUP });
    assert.equal(attacked.ok, false);
    assert.deepEqual(
      attacked.findings.filter((f) => f.partition === 1).map((f) => `${f.kind}:${f.severity}`),
      ['missing_before_commit:error', 'missing_after_checkpoint:error'],
    );
    assert.ok(
      attacked.notes.some((n) => /retention run .* was not taken as evidence .*not proven by a signed checkpoint/.test(n)),
      attacked.notes.join('\n'),
    );
    const cut = attacked.findings.find((f) => f.partition === 0 && f.kind === 'truncated');
    assert.equal(cut?.severity, 'warning', 'by default, for runs that predate events_cutoff');
    assert.match(
      cut?.detail ?? '',
      /10 earlier entries are not stored.*not explained by retention \(rows deleted\?\): no retention run with an events cut-off/,
    );
    const strict = await verify(ch, { ingestGroupId: GROUP, requireRetentionEvidence: true });
    assert.deepEqual(
      strict.findings.filter((f) => f.partition === 0 && f.kind === 'truncated').map((f) => `${f.severity}:${f.offset}`),
      ['error:10'],
    );

    // The real thing: `retention apply` (365 days) drops October and November 2025, all of both partitions' rows,
    // and its record is stored as the next entry of partition 0, as ingest stores it, under a signed checkpoint.
    await producer.send({ topic: EVENTS, acks: -1, messages: [{ partition: 0, value: 'the retention record' }] });
    const expired = await scenario('expired');
    const records: AuditEventInput[] = [];
    const result = await applyRetention(expired.ch, { policy: parseRetentionPolicy({}), recordEvent: async (e) => void records.push(e) });
    assert.ok(
      result.dropped.some((d) => d.table === 'events'),
      result.message,
    );
    assert.equal(result.eventsCutoff?.toISOString(), records[0]?.attributes?.events_cutoff);
    const cp = createCheckpointer({ ch: expired.ch, signingKey: loadSigningKey(keyA.privatePem, 'a'), everyEvents: 1, intervalMs: 3_600_000 });
    await cp.assign(EVENTS, 0);
    const insert = createChainedInsert({ chainer: createChainer({ ch: expired.ch }), checkpointer: cp, insert: (rows) => insertRows(expired.ch, rows) });
    const now = Date.now();
    await insert([
      toRow(
        records[0] as AuditEventInput,
        { received_at: now, ingested_at: now, kafka_topic: EVENTS, kafka_partition: 0, kafka_offset: PER_PARTITION },
        layout,
      ),
    ]);
    await cp.stop();
    // Requiring retention evidence: the run explains partition 0's truncation too, so nothing fails.
    const r = await verify(expired.ch, { ingestGroupId: GROUP, requireRetentionEvidence: true });
    assert.equal(r.ok, true, JSON.stringify(r.findings));
    assert.deepEqual(r.findings.map((f) => `${f.partition}:${f.kind}`).sort(), ['0:checkpoint_unpublished', '0:truncated', '1:chain_expired']);
    assert.match(
      r.findings.find((f) => f.kind === 'chain_expired')?.detail ?? '',
      new RegExp(
        `chain_seq 1\\.\\.1499 \\(up to offset 1499\\).*retention run ${records[0]?.event_id} \\(its record at ${EVENTS.replace(/\./g, '\\.')}/0@1500`,
      ),
    );
    assert.match(
      r.findings.find((f) => f.kind === 'truncated')?.detail ?? '',
      new RegExp(
        `retention explains them: retention run ${records[0]?.event_id} \\(its record at ${EVENTS.replace(/\./g, '\\.')}/0@1500.*before ${records[0]?.attributes?.events_cutoff?.replace(/\./g, '\\.').replace('Z', '')}`,
      ),
    );
  });
});
