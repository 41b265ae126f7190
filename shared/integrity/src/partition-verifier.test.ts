import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ChainEntryFields, entryHash, GENESIS_HASH } from './chain.js';
import { type Checkpoint, checkpointHash, GENESIS_CHECKPOINT_HASH, signCheckpoint } from './checkpoint.js';
import { type ChainFormat, entryHashIn } from './entry.js';
import { canonicalJson } from './jcs.js';
import { generateSigningKey, loadPublicKeys, loadSigningKey } from './keys.js';
import { checkCheckpoints, PartitionVerifier, type StoredChainRow } from './partition-verifier.js';
import type { RetentionRun } from './retention-evidence.js';

function makeChain(n: number, opts: { skipOffsets?: Set<number>; formatOf?: (i: number) => ChainFormat } = {}): StoredChainRow[] {
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
      producer_id: '',
      producer_seq: '0',
      chain_seq: String(i),
      prev_hash: prev,
    };
    const hash = entryHashIn(opts.formatOf?.(i) ?? 1, fields);
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

function verify(
  rows: StoredChainRow[],
  cps: Checkpoint[] = [],
  opts: { dlq?: Set<string>; topic?: Checkpoint[]; committed?: bigint; highWatermark?: bigint; runs?: RetentionRun[]; requireEvidence?: boolean } = {},
) {
  const checked = checkCheckpoints(cps, opts.topic, keys, { partition: 0 });
  const v = new PartitionVerifier({
    partition: 0,
    checkpoints: checked.valid,
    ...(opts.runs ? { retentionRuns: opts.runs } : {}),
    ...(opts.requireEvidence ? { requireRetentionEvidence: true } : {}),
    ...(opts.committed !== undefined ? { committedOffset: opts.committed } : {}),
    ...(opts.highWatermark !== undefined ? { highWatermark: opts.highWatermark } : {}),
  });
  // Rows and dead-lettered offsets interleaved by offset, as verifyStore merges the two streams.
  const dlq = [...(opts.dlq ?? [])].map(BigInt).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  let d = 0;
  for (const r of rows) {
    const o = BigInt(r.fields.kafka_offset);
    while (d < dlq.length && (dlq[d] as bigint) < o) v.pushDlq(dlq[d++] as bigint);
    v.push(r);
  }
  while (d < dlq.length) v.pushDlq(dlq[d++] as bigint);
  const rep = v.finish();
  return { ...rep, findings: [...checked.findings, ...rep.findings] };
}

const clone = (rows: StoredChainRow[]) => rows.map((r) => ({ fields: { ...r.fields }, hash: r.hash }));

test('RFC 8785: keys sort by code unit, strings escape like JSON.stringify', () => {
  assert.equal(canonicalJson({ b: 1, a: 'x', é: true, A: null, '\u00e9\u0301': 'y' }), '{"A":null,"a":"x","b":1,"é":true,"é́":"y"}');
  assert.equal(canonicalJson({ s: 'line\n"q"\u2028' }), '{"s":"line\\n\\"q\\"\u2028"}');
  assert.throws(() => canonicalJson({ f: 1.5 }));
});

test('a chain that switches entry format verifies, and the report counts intact entries by format', () => {
  const rows = makeChain(12, { formatOf: (i) => (i <= 5 ? 1 : 2) });
  const clean = verify(rows);
  assert.deepEqual(clean.findings, []);
  assert.equal(clean.entries, 12);
  assert.deepEqual(clean.entry_formats, { '1': 5, '2': 7 });
  const changed = clone(rows);
  (changed[8] as StoredChainRow).fields.producer_seq = '41';
  const rep = verify(changed);
  assert.match(JSON.stringify(rep.findings), /modified/, 'the edit of a format 2 entry is found');
  assert.deepEqual(rep.entry_formats, { '1': 5, '2': 6 }, 'the modified entry has no format');
});

test('a clean chain verifies, and re-delivered duplicates count once', () => {
  const rows = makeChain(50);
  const withDupes = rows.flatMap((r, i) => (i % 10 === 0 ? [r, { fields: { ...r.fields }, hash: r.hash }] : [r]));
  const cps = checkpointsFor(rows, 10);
  const rep = verify(withDupes, cps, { topic: cps });
  assert.deepEqual(rep.findings, []);
  assert.equal(rep.rows, 55);
  assert.equal(rep.entries, 50);
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
  assert.match(rep.findings[0]?.detail ?? '', /not a trusted key/);
  const altered = { ...(cps[1] as Checkpoint), chain_head: 'f'.repeat(64) };
  rep = verify(rows, [cps[0] as Checkpoint, altered, cps[2] as Checkpoint]);
  assert.equal(rep.findings[0]?.kind, 'checkpoint_altered');
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

/** Re-hashes rows from `from` on, as an attacker who knows the (public) algorithm would. */
function rehash(rows: StoredChainRow[], from: number): StoredChainRow[] {
  const out = rows.map((r) => ({ fields: { ...r.fields }, hash: r.hash }));
  for (let i = from; i < out.length; i++) {
    const r = out[i] as StoredChainRow;
    if (i > from) r.fields.prev_hash = (out[i - 1] as StoredChainRow).hash;
    r.hash = entryHash(r.fields);
  }
  return out;
}

test('a row rewritten with a recomputed hash is named: the next entry commits to a different hash', () => {
  const rows = clone(makeChain(20));
  (rows[7] as StoredChainRow).fields.outcome = 'denied';
  (rows[7] as StoredChainRow).hash = entryHash((rows[7] as StoredChainRow).fields);
  const rep = verify(rows);
  assert.equal(rep.findings.length, 1);
  assert.equal(rep.findings[0]?.kind, 'modified');
  assert.equal(rep.findings[0]?.offset, '7');
  assert.match(rep.findings[0]?.detail ?? '', /recomputed hash/);
});

test('rows swapped in Kafka order with recomputed hashes are reported as reordered', () => {
  const rows = clone(makeChain(20));
  const a = rows[4] as StoredChainRow;
  const b = rows[5] as StoredChainRow;
  [a.fields.kafka_offset, b.fields.kafka_offset] = [b.fields.kafka_offset, a.fields.kafka_offset];
  a.hash = entryHash(a.fields);
  b.hash = entryHash(b.fields);
  rows.sort((x, y) => Number(x.fields.kafka_offset) - Number(y.fields.kafka_offset));
  const rep = verify(rows);
  assert.equal(rep.findings[0]?.kind, 'reordered');
  assert.equal(rep.findings[0]?.offset, '4');
});

test('a forged copy at an existing offset with a valid, linking hash loses to the row the chain commits to', () => {
  const rows = makeChain(20);
  const real = rows[9] as StoredChainRow;
  const forgedFields = { ...real.fields, actor_id: 'mallory', event_id: '0190a000-0000-7000-8000-999999999999' };
  const forged = { fields: forgedFields, hash: entryHash(forgedFields) };
  const rep = verify([...rows.slice(0, 9), forged, real, ...rows.slice(10)]);
  assert.equal(rep.findings.length, 1);
  assert.equal(rep.findings[0]?.kind, 'inserted');
  assert.equal(rep.findings[0]?.event_id, forgedFields.event_id);
  assert.equal(rep.entries, 20);
});

test('a forged row at an offset Kafka never assigned is found by the high watermark', () => {
  const rows = makeChain(10);
  const last = rows[9] as StoredChainRow;
  const f = { ...last.fields, kafka_offset: '10', chain_seq: '11', prev_hash: last.hash, event_id: '0190a000-0000-7000-8000-999999999999' };
  const rep = verify([...rows, { fields: f, hash: entryHash(f) }], [], { highWatermark: 10n });
  assert.equal(rep.findings[0]?.kind, 'inserted');
  assert.match(rep.findings[0]?.detail ?? '', /never assigned offset 10/);
  assert.equal(verify([...rows, { fields: f, hash: entryHash(f) }], [], { highWatermark: 11n }).findings.length, 0);
});

test('a deleted row with the rest of the chain rebuilt is caught by the next signed checkpoint', () => {
  const rows = makeChain(30);
  const cps = checkpointsFor(rows, 10);
  const tampered = rows.filter((_, i) => i !== 15).map((r) => ({ fields: { ...r.fields }, hash: r.hash }));
  for (let i = 15; i < tampered.length; i++) (tampered[i] as StoredChainRow).fields.chain_seq = String(i + 1);
  (tampered[15] as StoredChainRow).fields.prev_hash = (tampered[14] as StoredChainRow).hash;
  const rebuilt = rehash(tampered, 15);
  const rep = verify(rebuilt, cps, { dlq: new Set(['15']) });
  assert.ok(rep.findings.length >= 1);
  assert.equal(rep.findings[0]?.kind, 'checkpoint_mismatch');
  assert.equal(rep.findings[0]?.offset, '19');
});

test('rows deleted at the end, after the last checkpoint, are proven missing by ingest’s committed offset', () => {
  const rows = makeChain(30);
  const cps = checkpointsFor(rows, 10); // last checkpoint at offset 29
  let rep = verify(rows.slice(0, 25), cps.slice(0, 2), { committed: 30n });
  assert.equal(rep.findings[0]?.kind, 'missing_before_commit');
  assert.equal(rep.findings[0]?.offset, '25');
  rep = verify(rows.slice(0, 25), cps.slice(0, 2), { committed: 30n, dlq: new Set(['25', '26', '27', '28', '29']) });
  assert.deepEqual(rep.findings, []);
});

test('a chain whose oldest rows are gone (retention) is a warning that names how many entries are missing', () => {
  const rows = makeChain(30);
  const cps = checkpointsFor(rows, 10);
  const rep = verify(rows.slice(10), cps);
  assert.equal(rep.findings.length, 1);
  assert.equal(rep.findings[0]?.kind, 'truncated');
  assert.equal(rep.findings[0]?.severity, 'warning');
  assert.match(rep.findings[0]?.detail ?? '', /10 earlier entries are not stored \(it links to the signed checkpoint at offset 9\)/);
  assert.match(rep.findings[0]?.detail ?? '', /not explained by retention \(rows deleted\?\): no retention run was looked up$/);
});

test('a partial verification anchored on a checkpoint checks only the span after it', () => {
  const rows = makeChain(30);
  const cps = checkpointsFor(rows, 10);
  const anchor = cps[0] as Checkpoint;
  const v = new PartitionVerifier({
    partition: 0,
    checkpoints: cps.slice(1),
    start: { offset: BigInt(anchor.last_offset), chain_seq: BigInt(anchor.chain_seq), hash: anchor.chain_head },
  });
  for (const r of rows.slice(10)) v.push(r);
  const rep = v.finish();
  assert.deepEqual(rep.findings, []);
  assert.equal(rep.checkpoints_matched, 2);
  const v2 = new PartitionVerifier({ partition: 0, start: { offset: 9n, chain_seq: 10n, hash: 'f'.repeat(64) } });
  for (const r of rows.slice(10)) v2.push(r);
  assert.equal(v2.finish().findings[0]?.offset, '10');
});

test('rows stored without chain values are reported once, with their count', () => {
  const rows = makeChain(5);
  const bare = (o: number): StoredChainRow => ({
    fields: { ...(rows[0] as StoredChainRow).fields, kafka_offset: String(o), chain_seq: '0', prev_hash: '' },
    hash: '',
  });
  const rep = verify([...rows, bare(5), bare(6)]);
  assert.equal(rep.findings.length, 1);
  assert.equal(rep.findings[0]?.kind, 'unchained');
  assert.match(rep.findings[0]?.detail ?? '', /^2 rows have no chain values/);
});

test('a forged row that links correctly to the previous entry is found: the next row holds its place and links past it', () => {
  const rows = makeChain(20, { skipOffsets: new Set([10]) });
  const prev = rows[9] as StoredChainRow; // offset 9; the next genuine row is offset 11
  const f = { ...prev.fields, kafka_offset: '10', event_id: '0190a000-0000-7000-8000-999999999999', chain_seq: '11', prev_hash: prev.hash };
  const rep = verify([...rows.slice(0, 10), { fields: f, hash: entryHash(f) }, ...rows.slice(10)], [], { dlq: new Set(['10']) });
  assert.deepEqual(
    rep.findings.map((x) => [x.kind, x.offset]),
    [['inserted', '10']],
  );
});

/** A verified retention run whose cut-off is `cutoffS` (seconds), recorded in another partition. */
const run = (cutoffS: number): RetentionRun => ({
  event_id: '0190a000-0000-7000-8000-00000000beef',
  topic: 'audit.events',
  partition: 1,
  offset: '7',
  run_at_us: BigInt(cutoffS + 86_400 * 365) * 1_000_000n,
  cutoff_us: BigInt(cutoffS) * 1_000_000n,
});

test('every row of a signed chain gone after a retention run whose cut-off covers them: one chain_expired warning', () => {
  const rows = makeChain(30);
  const cps = checkpointsFor(rows, 10); // the last one at offset 29, signed at 1_700_000_029
  // Stored by 1_700_000_030 at the latest, occurred at most 300 s later.
  const rep = verify([], cps, { committed: 30n, runs: [run(1_700_000_330)] });
  assert.equal(rep.findings.length, 1, JSON.stringify(rep.findings));
  assert.equal(rep.findings[0]?.kind, 'chain_expired');
  assert.equal(rep.findings[0]?.severity, 'warning');
  assert.equal(rep.findings[0]?.offset, '29');
  assert.match(
    rep.findings[0]?.detail ?? '',
    /chain_seq 1\.\.30 .*checkpoint at offset 29 .*retention run 0190a000-0000-7000-8000-00000000beef \(its record at audit\.events\/1@7/,
  );
  // Dead letters after the last checkpoint are accounted for, as everywhere.
  const dlq = verify([], cps, { committed: 33n, dlq: new Set(['30', '31', '32']), runs: [run(1_700_000_330)] });
  assert.deepEqual(
    dlq.findings.map((f) => f.kind),
    ['chain_expired'],
  );
});

/** Retention did not explain it: both errors stand, and the missing_after_checkpoint detail says why. */
function assertStillMissing(rep: ReturnType<typeof verify>, why: RegExp): void {
  assert.deepEqual(rep.findings.map((f) => `${f.kind}:${f.severity}`).sort(), ['missing_after_checkpoint:error', 'missing_before_commit:error']);
  assert.match(rep.findings.find((f) => f.kind === 'missing_after_checkpoint')?.detail ?? '', why);
}

test('every row of a partition deleted with no retention run explaining it stays an error (the attacker case)', () => {
  const rows = makeChain(30);
  const cps = checkpointsFor(rows, 10);
  for (const runs of [undefined, []]) {
    assertStillMissing(
      verify([], cps, { committed: 30n, ...(runs ? { runs } : {}) }),
      runs ? /not explained by retention: no retention run/ : /entries missing$/,
    );
  }
  // A cut-off one second short of what the signing time allows does not explain the newest entries.
  assertStillMissing(verify([], cps, { committed: 30n, runs: [run(1_700_000_329)] }), /not explained by retention: the latest retention cut-off/);
});

test('retention never explains what no checkpoint signed: a committed tail beyond it, or a partition without checkpoints', () => {
  const rows = makeChain(30);
  const cps = checkpointsFor(rows, 10);
  // Offsets 30..34 committed, neither signed nor dead-lettered.
  assertStillMissing(verify([], cps, { committed: 35n, runs: [run(1_800_000_000)] }), /5 offsets after the last checkpoint \(29\) were neither signed/);
  const unsigned = verify([], [], { committed: 30n, runs: [run(1_800_000_000)] });
  assert.deepEqual(
    unsigned.findings.map((f) => f.kind),
    ['missing_before_commit'],
  );
});

test('a chain with some rows still stored is judged as before (truncated start, rows missing at the end), not as expired', () => {
  const rows = makeChain(30);
  const cps = checkpointsFor(rows, 10);
  const rep = verify(rows.slice(10, 20), cps, { committed: 30n, runs: [run(1_800_000_000)] });
  assert.deepEqual(rep.findings.map((f) => f.kind).sort(), ['missing_after_checkpoint', 'missing_before_commit', 'truncated']);
});

// rows.slice(10) of a chain checkpointed every 10: chain_seq 1..10 gone; the checkpoint at offset 9 (chain_seq 10,
// signed at 1_700_000_009) is the earliest that covers them, so they occurred before 1_700_000_010 + 300 s.
const TRUNCATED_BOUND_S = 1_700_000_310;

/** The one truncated finding of rows.slice(10), as `severity`, whose detail matches `detail`. */
function assertTruncated(rep: ReturnType<typeof verify>, severity: 'warning' | 'error', detail: RegExp): void {
  assert.deepEqual(
    rep.findings.map((f) => `${f.kind}:${f.severity}:${f.offset}`),
    [`truncated:${severity}:10`],
  );
  assert.match(rep.findings[0]?.detail ?? '', detail);
}

test('a truncated chain a trusted retention run explains names the run, its record and cut-off; requiring evidence changes nothing', () => {
  const rows = makeChain(30);
  const cps = checkpointsFor(rows, 10);
  for (const requireEvidence of [false, true])
    assertTruncated(
      verify(rows.slice(10), cps, { runs: [run(TRUNCATED_BOUND_S)], requireEvidence }),
      'warning',
      /10 earlier entries are not stored .*; retention explains them: retention run 0190a000-0000-7000-8000-00000000beef \(its record at audit\.events\/1@7, 2024-11-13T\d\d:\d\d:\d\d\.000000Z\) removed every event that occurred before 2023-11-14T22:18:30\.000000Z, which every entry up to chain_seq 10 did \(stored by the signing time of the checkpoint at offset 9,/,
    );
});

test('a truncated chain no trusted run explains says why; it is an error only when retention evidence is required', () => {
  const rows = makeChain(30);
  const cps = checkpointsFor(rows, 10);
  const cases: [RetentionRun[], Checkpoint[], RegExp][] = [
    [[], cps, /not explained by retention \(rows deleted\?\): no retention run with an events cut-off/],
    // One second short of the bound: the newest removed entries may have occurred after the cut-off.
    [
      [run(TRUNCATED_BOUND_S - 1)],
      cps,
      /not explained by retention \(rows deleted\?\): the latest retention cut-off .* the signing time of the checkpoint at offset 9/,
    ],
    // No checkpoint covers chain_seq 10: nothing bounds when they occurred, whatever the cut-off.
    [[run(1_900_000_000)], [], /not explained by retention \(rows deleted\?\): no valid signed checkpoint covers chain_seq 10/],
  ];
  for (const [runs, signed, why] of cases) {
    assertTruncated(verify(rows.slice(10), signed, { runs }), 'warning', why);
    assertTruncated(verify(rows.slice(10), signed, { runs, requireEvidence: true }), 'error', why);
  }
});

test('a truncated chain asks for the retention runs, which may arrive after the rows (verifyStore looks them up lazily)', () => {
  const rows = makeChain(30);
  const cps = checkpointsFor(rows, 10);
  const whole = new PartitionVerifier({ partition: 0, checkpoints: cps });
  for (const r of rows) whole.push(r);
  assert.equal(whole.truncated, false, 'a chain from chain_seq 1 needs no runs');
  // One stored row: it is only judged once the stream has ended.
  const v = new PartitionVerifier({ partition: 0, checkpoints: cps, requireRetentionEvidence: true });
  v.push(rows[10] as StoredChainRow);
  v.end();
  assert.equal(v.truncated, true);
  v.setRetentionRuns([run(TRUNCATED_BOUND_S)]);
  const rep = v.finish();
  assert.equal(rep.findings[0]?.severity, 'warning');
  assert.match(rep.findings[0]?.detail ?? '', /retention explains them: retention run/);
});
