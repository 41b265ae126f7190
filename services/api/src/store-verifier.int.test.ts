import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type AuditEventInput, createClickHouse, insertRows, layoutFor, migrate, toRow } from '@auditstream/clickhouse';
import { configSchema, loadConfig } from '@auditstream/config';
import { uniqueName, uuidv7 } from '@auditstream/core';
import {
  clickhouseIntegrityStore,
  createChainedInsert,
  createChainer,
  GENESIS_CHECKPOINT_HASH,
  GENESIS_HASH,
  generateSigningKey,
  loadPublicKeys,
  loadSigningKey,
  signCheckpoint,
} from '@auditstream/integrity';
import { createLogger } from '@auditstream/observability';
import { createStoreVerifier } from './store-verifier.js';

// The API's verifier is verifyStore on the real ClickHouse: clean data verifies, a checkpoint
// signed with a key the API does not trust is reported.
const cfg = loadConfig(configSchema, {});
const database = uniqueName('api_verify');
const ch = createClickHouse({ ...cfg.clickhouse, database }, { component: 'test', logger: createLogger({ service: 'test', level: 'warn' }) });
const trusted = generateSigningKey();
const publicKeys = loadPublicKeys([trusted.publicPem]);
const verifier = createStoreVerifier({ ch, publicKeys, checkpointsTopic: uniqueName('cp'), eventsTopic: 'audit.events' });
const range = { from: BigInt(Date.now() - 3_600_000) * 1000n, to: BigInt(Date.now() + 3_600_000) * 1000n, scope: { all: true as const } };

before(async () => {
  await migrate(ch, { database });
});
after(async () => {
  await ch.command(`DROP DATABASE IF EXISTS ${database}`).catch(() => {});
  await ch.close();
});

test('an empty store verifies ok, and the result becomes the latest', async () => {
  const report = await verifier.verifyRange({ ...range, signal: new AbortController().signal });
  assert.equal(report.status, 'ok');
  assert.equal(report.events_checked, 0);
  assert.deepEqual(await verifier.latest({ scope: { all: true } }), report);
});

test('a checkpoint signed with an untrusted key is a failure naming the partition', async () => {
  const rogue = loadSigningKey(generateSigningKey().privatePem, 'rogue');
  const forged = signCheckpoint(rogue, {
    topic: 'audit.events',
    partition: 2,
    last_offset: '41',
    chain_seq: '42',
    chain_head: GENESIS_HASH.replace(/0/g, 'a'),
    created_at_s: Math.floor(Date.now() / 1000),
    prev_checkpoint_hash: GENESIS_CHECKPOINT_HASH,
  });
  await clickhouseIntegrityStore(ch).insertCheckpoint(forged);
  const report = await verifier.verifyRange({ ...range, signal: new AbortController().signal });
  assert.equal(report.status, 'failed');
  assert.ok(
    report.failures.some((f) => f.kind === 'checkpoint_forged' && f.partition === 2),
    JSON.stringify(report.failures),
  );
});

test('a message reusing an event_id with other content verifies ok and is listed as an event_id_conflict warning', async () => {
  const layout = layoutFor(await ch.capabilities());
  const chainer = createChainer({ ch });
  const insert = createChainedInsert({ chainer, insert: (rows) => insertRows(ch, rows) });
  const id = uuidv7();
  const event = (outcome: 'failure' | 'success'): AuditEventInput => ({
    event_id: id,
    tenant_id: 'acme',
    occurred_at: Date.now() * 1000,
    actor: { id: 'victim', type: 'user' },
    action: 'auth.login',
    category: 'authentication',
    outcome,
    service: 'sso',
  });
  const meta = (offset: number) => ({ received_at: Date.now(), kafka_topic: 'audit.events', kafka_partition: 7, kafka_offset: offset });
  await insert([toRow(event('failure'), meta(0), layout), toRow(event('success'), meta(1), layout)]);
  const report = await verifier.verifyRange({ ...range, signal: new AbortController().signal });
  assert.deepEqual(
    report.failures.filter((f) => f.partition === 7),
    [],
  );
  assert.deepEqual(
    report.warnings?.filter((w) => w.kind === 'event_id_conflict').map((w) => ({ partition: w.partition, offset: w.offset, event_id: w.event_id })),
    [{ partition: 7, offset: '1', event_id: id }],
  );
});
