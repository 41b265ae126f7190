import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  type AuditEventInput,
  type ClickHouse,
  countEvents,
  createClickHouse,
  type EventRow,
  getEvent,
  insertRows,
  layoutFor,
  migrate,
  rawEventRowCount,
  toRow,
} from '@auditstream/clickhouse';
import { configSchema, loadConfig } from '@auditstream/config';
import { uniqueName, uuidv7 } from '@auditstream/core';
import { createLogger } from '@auditstream/observability';
import { createChdbConnection } from 'chdb/connection';
import { createChainedInsert } from './chained-insert.js';
import { createChainer } from './chainer.js';
import { createCheckpointer } from './checkpointer.js';
import { storedEntryHash } from './entry.js';
import { generateSigningKey, loadPublicKeys, loadSigningKey } from './keys.js';
import { leafHash, subtreeRoot } from './merkle.js';
import { clickhouseIntegrityStore, storedChainRow } from './store.js';
import { readLeafEntries } from './tree-store.js';
import { verifyStore } from './verify-store.js';

/**
 * The modern layout (DateTime64, Map) in-process with chDB: what the chainer hashes from toRow's
 * modern rows is what verify computes from the stored columns (toUnixTimestamp64Micro, the Map),
 * and a change is found. No server needed: runs with the unit tests.
 */
const cfg = loadConfig(configSchema, { env: {} }).clickhouse;
const DB = uniqueName('integrity_chdb');
const pair = generateSigningKey();
let ch: ClickHouse;

before(async () => {
  ch = createClickHouse(
    { ...cfg, database: DB },
    { logger: createLogger({ service: 'chdb-test', level: 'warn' }), connection: createChdbConnection({ path: ':memory:' }) },
  );
  await migrate(ch);
});
after(async () => {
  await ch.command(`DROP DATABASE IF EXISTS ${DB}`);
  await ch.close();
});

const NASTY = ['', 'quote \' " \\', 'tab\tnl\n\u0000\u0007\u007f', 'Zoë 東京 🙂 \u2028'];
function event(i: number): AuditEventInput {
  const s = NASTY[i % NASTY.length] as string;
  return {
    event_id: uuidv7(1_760_000_000_000 + i),
    tenant_id: `t${i % 2}`,
    occurred_at: 1_760_000_000_000_000 + i * 1_000_003,
    actor: { id: `u${i % 5}`, type: 'user', name: s || null },
    action: 'doc.read',
    category: 'resource_access',
    outcome: 'success',
    reason: s || null,
    service: 'chdb',
    resource: i % 2 ? { type: 'doc', id: `d${i}`, name: s || null } : null,
    attributes: i % 3 ? { z: s, a: String(i), é: 'x', '\u{1F600}k': 'astral', '\uFFFDk': 'bmp' } : {},
  };
}

test('modern layout: chained rows verify, and an altered row is named', async () => {
  const layout = layoutFor(await ch.capabilities());
  assert.equal(layout, 'modern');
  const key = loadSigningKey(pair.privatePem, 'chdb');
  const chainer = createChainer({ ch });
  const checkpointer = createCheckpointer({ ch, signingKey: key, everyEvents: 50, intervalMs: 3_600_000 });
  const insert = createChainedInsert({ chainer, checkpointer, insert: (rows) => insertRows(ch, rows) });
  const rows: EventRow[] = [];
  for (let o = 0; o < 200; o++)
    rows.push(toRow(event(o), { received_at: 1_760_000_000_123 + o * 997, kafka_topic: 'audit.events', kafka_partition: 0, kafka_offset: o }, layout));
  await insert(rows.slice(0, 120));
  await insert(rows.slice(120));
  await checkpointer.stop();
  const keys = loadPublicKeys([pair.publicPem]);
  const clean = await verifyStore({ ch, publicKeys: keys });
  assert.deepEqual(clean.findings, []);
  assert.equal(clean.entries, 200);
  assert.equal(clean.partitions[0]?.checkpoints_matched, clean.partitions[0]?.checkpoints);
  // The signed tree head (migration 008's columns) is rebuilt from the stored entries on this layout too.
  const head = await clickhouseIntegrityStore(ch).lastCheckpoint('audit.events', 0);
  assert.equal(head?.tree_size, '200');
  const leaves = await readLeafEntries(ch, 'audit.events', 0, 1n, 200n);
  assert.equal(subtreeRoot(leaves.map(leafHash)).toString('hex'), head?.tree_root);
  await ch.command(`ALTER TABLE ${DB}.events UPDATE attributes = map('a', 'forged') WHERE kafka_offset = 41 SETTINGS mutations_sync = 1`);
  const tampered = await verifyStore({ ch, publicKeys: keys });
  assert.equal(tampered.first_error?.kind, 'modified');
  assert.equal(tampered.first_error?.offset, '41');
});

// Storage identity (@auditstream/clickhouse identity.ts) on the modern layout: rows chained and inserted as ingest does,
// merges forced. The same reproductions run on 18.16 through the real ingest in
// services/ingest/src/identity.int.test.ts.
const ALL = { from: 0, to: 4_000_000_000_000_000 };

function login(tenant: string, eventId: string, over: Partial<AuditEventInput> = {}): AuditEventInput {
  return {
    event_id: eventId,
    tenant_id: tenant,
    occurred_at: 1_760_000_000_000_000,
    actor: { id: 'alice', type: 'user' },
    action: 'auth.login',
    category: 'authentication',
    outcome: 'failure',
    service: 'chdb',
    ...over,
  };
}

/** A chained writer for one partition of a topic: rows built from (event, offset), inserted as ingest does. */
async function writer(topic: string) {
  const layout = layoutFor(await ch.capabilities());
  const chainer = createChainer({ ch });
  const checkpointer = createCheckpointer({ ch, signingKey: loadSigningKey(pair.privatePem, 'chdb'), everyEvents: 4, intervalMs: 3_600_000 });
  const insert = createChainedInsert({ chainer, checkpointer, insert: (rows) => insertRows(ch, rows) });
  const row = (e: AuditEventInput, offset: number): EventRow =>
    toRow(e, { received_at: 1_760_000_000_500 + offset, kafka_topic: topic, kafka_partition: 4, kafka_offset: offset }, layout);
  return { insert, row, checkpointer };
}

const verify = (topic: string) => verifyStore({ ch, publicKeys: loadPublicKeys([pair.publicPem]), topic });

test('modern: six messages with one event_id, a re-delivered batch, a forced merge: six entries, one event shown, verify clean and names five conflicts', async () => {
  const topic = uniqueName('six');
  const id = uuidv7();
  const w = await writer(topic);
  const rows = Array.from({ length: 6 }, (_, k) => w.row(login('t-six', id, { reason: `attempt ${k}`, attributes: { attempt: String(k) } }), 5762 + k));
  await w.insert(rows.slice(0, 4));
  // The crash-and-restart case: the same messages again (same offsets), then the rest.
  await w.insert(Array.from({ length: 6 }, (_, k) => w.row(login('t-six', id, { reason: `attempt ${k}`, attributes: { attempt: String(k) } }), 5762 + k)));
  await w.checkpointer.stop();
  await ch.command(`OPTIMIZE TABLE ${DB}.events FINAL`);
  assert.equal(await rawEventRowCount(ch, 't-six'), 6, 're-delivered copies collapsed, the six messages kept');
  assert.equal(await countEvents(ch, { tenant_id: 't-six', ...ALL }), 1);
  assert.deepEqual((await getEvent(ch, 't-six', id))?.event.attributes, { attempt: '0' }, 'the first received is shown');
  const report = await verify(topic);
  assert.equal(report.ok, true, JSON.stringify(report.findings.slice(0, 3)));
  assert.equal(report.entries, 6);
  assert.deepEqual(report.entry_formats, { '1': 0, '2': 6 }, 'the modern layout verifies format 2 entries');
  const conflicts = report.findings.filter((f) => f.kind === 'event_id_conflict');
  assert.deepEqual(
    conflicts.map((f) => f.offset),
    ['5763', '5764', '5765', '5766', '5767'],
  );
  assert.ok(conflicts.every((f) => f.event_id === id && f.severity === 'warning'));
});

test("modern: a message replacing the victim's row is kept beside it; the victim's row is shown and the attempt named", async () => {
  const topic = uniqueName('victim');
  const id = uuidv7();
  const w = await writer(topic);
  await w.insert([
    w.row(login('t-victim', id, { reason: 'bad password' }), 10),
    w.row(login('t-victim', uuidv7(), { actor: { id: 'bob', type: 'user' } }), 11),
  ]);
  await w.insert([w.row(login('t-victim', id, { outcome: 'success', attributes: { mfa: 'passed' } }), 12)]);
  // The same event published twice by its producer (identical content, another offset) is no conflict.
  await w.insert([w.row(login('t-victim', id, { reason: 'bad password' }), 13)]);
  await w.checkpointer.stop();
  await ch.command(`OPTIMIZE TABLE ${DB}.events FINAL`);
  const shown = await getEvent(ch, 't-victim', id);
  assert.equal(shown?.event.outcome, 'failure');
  assert.equal(shown?.event.reason, 'bad password');
  assert.equal(await rawEventRowCount(ch, 't-victim'), 4);
  const report = await verify(topic);
  assert.equal(report.ok, true, JSON.stringify(report.findings.slice(0, 3)));
  const conflicts = report.findings.filter((f) => f.kind === 'event_id_conflict');
  assert.deepEqual(
    conflicts.map((f) => f.offset),
    ['12'],
  );
});

test("storedChainRow: the event's row at its offset with every column as stored, the copy with the given hash first", async () => {
  const topic = uniqueName('point');
  const id = uuidv7();
  const w = await writer(topic);
  await w.insert([w.row(login('t-point', id), 20), w.row(login('t-point', uuidv7()), 21)]);
  await w.checkpointer.stop();
  // Narrowed by the event's tenant and time (a read through the sorting key), as the API's /proof reads it.
  const at = { topic, partition: 4, offset: 20n, event_id: id.toUpperCase(), within: { tenant_id: 't-point', occurred_at_us: 1_760_000_000_000_000n } };
  const genuine = await storedChainRow(ch, at);
  assert.equal(genuine?.fields.event_id, id);
  assert.deepEqual([genuine?.fields.producer_id, genuine?.fields.producer_seq, genuine?.fields.chain_seq], ['', '0', '1']);
  assert.deepEqual(storedEntryHash(genuine.fields, genuine.hash), { hash: genuine.hash, format: 2 });
  assert.equal(await storedChainRow(ch, { ...at, offset: 21n }), undefined, 'another event at that offset');
  assert.equal(await storedChainRow(ch, { ...at, offset: 22n }), undefined, 'no row at that offset');
  const { within } = at;
  assert.equal(await storedChainRow(ch, { ...at, within: { ...within, tenant_id: 't-other' } }), undefined, 'another tenant');
  assert.equal(await storedChainRow(ch, { ...at, within: { ...within, occurred_at_us: within.occurred_at_us + 1n } }), undefined, 'another microsecond');

  // producer_seq changed on a row without producer_id, beyond 2^53: read exactly as stored, and it no longer hashes right.
  await ch.command(
    `ALTER TABLE ${DB}.events UPDATE producer_seq = 18446744073709551615 WHERE kafka_topic = '${topic}' AND kafka_offset = 20 SETTINGS mutations_sync = 1`,
  );
  const changed = await storedChainRow(ch, at);
  assert.equal(changed?.fields.producer_seq, '18446744073709551615');
  assert.notEqual(storedEntryHash(changed.fields, changed.hash).hash, changed.hash);

  // A different copy of the message (another key, so no merge collapses it): the one whose hash is asked for, else the first by hash.
  const layout = layoutFor(await ch.capabilities());
  const copy = toRow(
    login('t-point', id, { actor: { id: 'mallory', type: 'user' } }),
    { received_at: 1_760_000_000_520, kafka_topic: topic, kafka_partition: 4, kafka_offset: 20, chain_seq: 1, prev_hash: '0'.repeat(64), hash: '0'.repeat(64) },
    layout,
  );
  await insertRows(ch, [copy]);
  assert.equal((await storedChainRow(ch, { ...at, hash: genuine.hash }))?.fields.actor_id, 'alice');
  assert.equal((await storedChainRow(ch, { ...at, hash: '0'.repeat(64) }))?.fields.actor_id, 'mallory');
  assert.equal((await storedChainRow(ch, { ...at, hash: 'f'.repeat(64) }))?.fields.actor_id, 'mallory');
  assert.equal((await storedChainRow(ch, at))?.fields.actor_id, 'mallory');
});
