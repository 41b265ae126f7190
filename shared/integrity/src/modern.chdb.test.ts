import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type AuditEventInput, type ClickHouse, createClickHouse, type EventRow, insertRows, layoutFor, migrate, toRow } from '@auditstream/clickhouse';
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
  await ch.command(`ALTER TABLE ${DB}.events UPDATE attributes = map('a', 'forged') WHERE kafka_offset = 41 SETTINGS mutations_sync = 1`);
  const tampered = await verifyStore({ ch, publicKeys: keys });
  assert.equal(tampered.first_error?.kind, 'modified');
  assert.equal(tampered.first_error?.offset, '41');
});
