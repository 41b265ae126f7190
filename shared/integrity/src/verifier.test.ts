import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ChainEntryFields, entryHash, GENESIS_HASH } from './chain.js';
import { type Checkpoint, checkpointHash, GENESIS_CHECKPOINT_HASH, signCheckpoint } from './checkpoint.js';
import { canonicalJson } from './jcs.js';
import { generateSigningKey, loadPublicKeys, loadSigningKey } from './keys.js';
import { PartitionVerifier, type StoredChainRow } from './verifier.js';

function makeChain(n: number, opts: { skipOffsets?: Set<number> } = {}): StoredChainRow[] {
  const rows: StoredChainRow[] = [];
  let prev = GENESIS_HASH;
  let offset = 0;
  for (let i = 1; i <= n; i++) {
    while (opts.skipOffsets?.has(offset)) offset++;
    const fields: ChainEntryFields = {
      tenant_id: 't1',
      event_id: `0190a000-0000-7000-8000-${String(i).padStart(12, '0')}`,
      occurred_at_us: String(1_700_000_000_000_000 + i),
      action: 'auth.login',
      category: 'authentication',
      outcome: i % 3 ? 'success' : 'failure',
      reason: '',
      actor_id: `u${i % 7}`,
      actor_type: 'user',
      actor_name: 'Zoë "Q" O\'Brien',
      actor_session_id: '',
      actor_ip: '10.0.0.1',
      actor_user_agent: '',
      service: 'svc',
      host: '',
      region: '',
      resource_type: '',
      resource_id: '',
      resource_name: '',
      request_id: '',
      trace_id: '',
      severity: 'info',
      attributes: { b: '2', a: '1' },
      received_at_s: 1_700_000_000,
      kafka_topic: 'audit.events',
      kafka_partition: 0,
      kafka_offset: String(offset),
      geo_country: '',
      geo_city: '',
      ua_browser: '',
      ua_os: '',
      ua_device: '',
      chain_seq: String(i),
      prev_hash: prev,
    };
    const hash = entryHash(fields);
    rows.push({ fields, hash });
    prev = hash;
    offset++;
  }
  return rows;
}

const pair = generateSigningKey();
const key = loadSigningKey(pair.privatePem, 'test');
const keys = loadPublicKeys([pair.publicPem]);

function checkpointsFor(rows: StoredChainRow[], every: number): Checkpoint[] {
  const out: Checkpoint[] = [];
  let prev = GENESIS_CHECKPOINT_HASH;
  for (let i = every - 1; i < rows.length; i += every) {
    const r = rows[i] as StoredChainRow;
    const c = signCheckpoint(key, {
      topic: 'audit.events',
      partition: 0,
      last_offset: r.fields.kafka_offset,
      chain_seq: r.fields.chain_seq,
      chain_head: r.hash,
      created_at_s: 1_700_000_000 + i,
      prev_checkpoint_hash: prev,
    });
    prev = checkpointHash(c);
    out.push(c);
  }
  return out;
}

function verify(rows: StoredChainRow[], cps: Checkpoint[] = [], opts: { dlq?: Set<string>; topic?: Checkpoint[] } = {}) {
  const v = new PartitionVerifier({ partition: 0, dlqOffsets: opts.dlq ?? new Set(), checkpointOffsets: new Set(cps.map((c) => c.last_offset)) });
  for (const r of rows) v.push(r);
  return v.finish({ table: cps, ...(opts.topic ? { topic: opts.topic } : {}) }, keys);
}

const clone = (rows: StoredChainRow[]) => rows.map((r) => ({ fields: { ...r.fields }, hash: r.hash }));

test('RFC 8785: keys sort by code unit, strings escape like JSON.stringify', () => {
  assert.equal(canonicalJson({ b: 1, a: 'x', é: true, A: null, '\u00e9\u0301': 'y' }), '{"A":null,"a":"x","b":1,"é":true,"é́":"y"}');
  assert.equal(canonicalJson({ s: 'line\n"q"\u2028' }), '{"s":"line\\n\\"q\\"\u2028"}');
  assert.throws(() => canonicalJson({ f: 1.5 }));
});

test('a clean chain verifies, and re-delivered duplicates count once', () => {
  const rows = makeChain(50);
  const withDupes = rows.flatMap((r, i) => (i % 10 === 0 ? [r, { fields: { ...r.fields }, hash: r.hash }] : [r]));
  const cps = checkpointsFor(rows, 10);
  const rep = verify(withDupes, cps, { topic: cps });
  assert.deepEqual(rep.findings, []);
  assert.equal(rep.rows, 50);
  assert.equal(rep.duplicates, 5);
  assert.equal(rep.checkpoints, 5);
  assert.equal(rep.chain_head, rows[49]?.hash);
});

test('a modified field is named with its offset and event id', () => {
  const rows = clone(makeChain(20));
  (rows[7] as StoredChainRow).fields.outcome = 'success';
  (rows[7] as StoredChainRow).fields.actor_id = 'someone-else';
  const rep = verify(rows);
  assert.equal(rep.findings[0]?.kind, 'modified');
  assert.equal(rep.findings[0]?.offset, '7');
  assert.equal(rep.findings[0]?.event_id, rows[7]?.fields.event_id);
});

test('a deleted row is found', () => {
  const rows = makeChain(20);
  const rep = verify([...rows.slice(0, 5), ...rows.slice(6)]);
  assert.equal(rep.findings[0]?.kind, 'deleted');
  assert.equal(rep.findings[0]?.offset, '6');
  assert.match(rep.findings[0]?.detail ?? '', /1 chain entry is missing between offsets 4 and 6/);
});

test('an inserted forged row (with a correct-looking hash) is found', () => {
  const rows = makeChain(20, { skipOffsets: new Set([10]) });
  const base = rows[8] as StoredChainRow; // offset 8; next genuine row is offset 9, then 11
  const forgedFields: ChainEntryFields = {
    ...base.fields,
    kafka_offset: '10',
    event_id: '0190a000-0000-7000-8000-999999999999',
    chain_seq: '10',
    prev_hash: (rows[9] as StoredChainRow).hash,
  };
  const forged = { fields: forgedFields, hash: entryHash(forgedFields) };
  const tampered = [...rows.slice(0, 10), forged, ...rows.slice(10)];
  const rep = verify(tampered, [], { dlq: new Set(['10']) });
  assert.equal(rep.findings[0]?.kind, 'inserted');
  assert.equal(rep.findings[0]?.offset, '10');
});

test('reordered rows are found', () => {
  const rows = clone(makeChain(20));
  const a = rows[4] as StoredChainRow;
  const b = rows[5] as StoredChainRow;
  [a.fields.kafka_offset, b.fields.kafka_offset] = [b.fields.kafka_offset, a.fields.kafka_offset];
  rows.sort((x, y) => Number(x.fields.kafka_offset) - Number(y.fields.kafka_offset));
  const rep = verify(rows);
  assert.ok(['reordered', 'modified'].includes(rep.findings[0]?.kind as string));
  assert.equal(rep.findings[0]?.offset, '4');
});

test('dead-lettered offsets explain gaps; unexplained ones are reported', () => {
  const rows = makeChain(10, { skipOffsets: new Set([3]) });
  assert.deepEqual(verify(rows, [], { dlq: new Set(['3']) }).findings, []);
  const rep = verify(rows);
  assert.equal(rep.findings[0]?.kind, 'unexplained_gap');
  assert.equal(rep.findings[0]?.offset, '3');
});

test('a forged checkpoint (other key) and an altered one are rejected', () => {
  const rows = makeChain(30);
  const cps = checkpointsFor(rows, 10);
  const other = loadSigningKey(generateSigningKey().privatePem, 'other');
  const forged = signCheckpoint(other, { ...(cps[1] as Checkpoint) });
  let rep = verify(rows, [cps[0] as Checkpoint, forged, cps[2] as Checkpoint]);
  assert.equal(rep.findings[0]?.kind, 'checkpoint_forged');
  assert.match(rep.findings[0]?.detail ?? '', /unknown key/);
  const altered = { ...(cps[1] as Checkpoint), chain_head: 'f'.repeat(64) };
  rep = verify(rows, [cps[0] as Checkpoint, altered, cps[2] as Checkpoint]);
  assert.equal(rep.findings[0]?.kind, 'checkpoint_forged');
  assert.match(rep.findings[0]?.detail ?? '', /signature/);
});

test('rows missing after the last checkpoint are found, also when only the Kafka copy has it', () => {
  const rows = makeChain(30);
  const cps = checkpointsFor(rows, 10);
  let rep = verify(rows.slice(0, 25), cps);
  assert.ok(rep.findings.some((f) => f.kind === 'missing_after_checkpoint' && f.offset === '29'));
  // The attacker also deleted the last checkpoint from ClickHouse; the Kafka copy still proves it.
  rep = verify(rows.slice(0, 25), cps.slice(0, 2), { topic: cps });
  assert.ok(rep.findings.some((f) => f.kind === 'missing_after_checkpoint' && f.offset === '29'));
  assert.ok(rep.findings.some((f) => f.kind === 'checkpoint_altered'));
});
