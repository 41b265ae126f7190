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
import { generateSigningKey, loadPublicKeys, loadSigningKey } from './keys.js';
import { verifyStore } from './verify.js';

/**
 * Storage identity (issue 21.1) on the modern layout, in-process with chDB: rows chained and
 * inserted as ingest does, merges forced. The same reproductions run on 18.16 through the real
 * ingest in services/ingest/src/identity.int.test.ts.
 */
const cfg = loadConfig(configSchema, { env: {} }).clickhouse;
const DB = uniqueName('identity_chdb');
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
