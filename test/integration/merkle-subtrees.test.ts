// Stored subtree roots (migration 013) on the real ClickHouse 18.16: proofs built from them equal
// the leaf-based ones of merkle.ts byte for byte, the first proof stores the roots and the next
// reads them, and a wrong stored root never makes a tampered row pass: the path it gives does not
// lead to the signed root, so the builder falls back to the leaves (and repairs the roots).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type ClickHouse, createClickHouse, migrate } from '@auditstream/clickhouse';
import { uniqueName } from '@auditstream/core';
import {
  buildConsistencyProof,
  buildInclusionProof,
  consistencyProof,
  generateSigningKey,
  type InclusionProof,
  inclusionProof,
  leafHash,
  loadPublicKeys,
  loadSigningKey,
  readLeafEntries,
  signCheckpoint,
  signedCheckpoint,
  subtreeRoot,
  type TreeHead,
  verifyInclusion,
  verifyProofDocument,
} from '@auditstream/integrity';
import { createLogger } from '@auditstream/observability';
import { testConfig, waitFor } from '@auditstream/test';

const N = 1500; // five complete blocks of 256 and an unfinished tail
const TOPIC = 'subtrees.events';
const pair = generateSigningKey();
const key = loadSigningKey(pair.privatePem, 'test');
const keys = loadPublicKeys([pair.publicPem]);
let ch: ClickHouse;
let db: string;
let leaves: Buffer[];

before(async () => {
  db = uniqueName('subtrees');
  ch = createClickHouse({ ...testConfig().clickhouse, database: db }, { logger: createLogger({ service: 'subtrees-int', level: 'silent' }) });
  await migrate(ch);
  await ch.command(
    `INSERT INTO ${db}.events (tenant_id, event_id, occurred_at, kafka_topic, kafka_partition, kafka_offset, chain_seq, hash)
     SELECT 't', generateUUIDv4(), now(), '${TOPIC}', 0, number, number + 1, lower(hex(SHA256(toString(number)))) FROM system.numbers LIMIT ${N}`,
  );
  leaves = (await readLeafEntries(ch, TOPIC, 0, 1n, BigInt(N))).map(leafHash);
});

after(async () => {
  await ch?.command(`DROP DATABASE IF EXISTS ${db}`).catch(() => {});
  await ch?.close();
});

const head = (size: number): TreeHead =>
  signedCheckpoint(
    signCheckpoint(key, {
      topic: TOPIC,
      partition: 0,
      last_offset: String(size - 1),
      chain_seq: String(size),
      chain_head: '0'.repeat(64),
      created_at_s: 1_700_000_000,
      prev_checkpoint_hash: '0'.repeat(64),
      tree_size: String(size),
      tree_root: subtreeRoot(leaves, 0, size).toString('hex'),
    }),
  ) as TreeHead;

// An event whose entry is only a stand-in: these tests are about the path, which the offline check recomputes from entry_hash.
async function proveRow(index: number, size: number) {
  const [row] = await ch.queryRows<{ hash: string }>(`SELECT hash FROM ${db}.events WHERE chain_seq = ${index + 1} ORDER BY kafka_offset LIMIT 1`);
  return buildInclusionProof(
    ch,
    {
      event_id: 'e',
      topic: TOPIC,
      partition: 0,
      offset: String(index),
      chain_seq: String(index + 1),
      prev_hash: '0'.repeat(64),
      entry_hash: row?.hash ?? '',
      entry: '{}',
    },
    head(size),
  );
}

const storedCount = async () => Number((await ch.queryRows<{ n: string }>(`SELECT count() AS n FROM ${db}.merkle_subtrees WHERE topic = '${TOPIC}'`))[0]?.n);
// The inclusion path's own check (the stand-in entry would fail verifyProofDocument's entry check first).
const leadsToRoot = (doc: InclusionProof) =>
  verifyInclusion(
    doc.leaf_index,
    Number(doc.tree_head.tree_size),
    leafHash(Buffer.from(doc.entry_hash, 'hex')),
    doc.path.map((p) => Buffer.from(p, 'hex')),
    Buffer.from(doc.tree_head.tree_root, 'hex'),
  );

test('proofs from stored roots equal the leaf-based ones; the first stores the roots, later ones read them', async () => {
  assert.equal(await storedCount(), 0);
  for (const [index, size] of [
    [700, N],
    [0, N],
    [N - 1, N],
    [1024, 1025],
    [300, 1024],
    [1400, 1437],
  ] as const) {
    const doc = await proveRow(index, size);
    assert.deepEqual(
      doc.path,
      inclusionProof(leaves, index, size).map((b) => b.toString('hex')),
      `inclusion ${index} of ${size}`,
    );
    assert.equal(leadsToRoot(doc), true);
  }
  // Only roots of complete subtrees of 256 leaves and more (inside 1500 leaves: 5 + 2 + 1 at levels 8..10), each the true one.
  const stored = await ch.queryRows<{ level: number; idx: string; root: string }>(
    `SELECT level, toString(idx) AS idx, argMax(root, written_ms) AS root FROM ${db}.merkle_subtrees WHERE topic = '${TOPIC}' GROUP BY level, idx`,
  );
  assert.ok(stored.length >= 5 && stored.length <= 8, `${stored.length} roots`);
  for (const r of stored) {
    const lo = Number(r.idx) * 2 ** r.level;
    assert.ok(r.level >= 8 && lo + 2 ** r.level <= N);
    assert.equal(r.root, subtreeRoot(leaves, lo, lo + 2 ** r.level).toString('hex'), `${r.level}/${r.idx}`);
  }
  // A proof again reads what is stored, and writes nothing.
  const rows = await storedCount();
  await proveRow(700, N);
  assert.equal(await storedCount(), rows);
  for (const [m, n] of [
    [1, N],
    [700, N],
    [1024, N],
    [1300, 1437],
    [N, N],
  ] as const) {
    const doc = await buildConsistencyProof(ch, head(m), head(n));
    assert.deepEqual(
      doc.path,
      consistencyProof(leaves, m, n).map((b) => b.toString('hex')),
      `consistency ${m} to ${n}`,
    );
    assert.equal(verifyProofDocument(doc, keys).ok, true);
  }
});

test('a wrong stored root is detected: the proof is rebuilt from the leaves and the root repaired', async () => {
  await proveRow(5, N);
  const root = async () =>
    (
      await ch.queryRows<{ root: string }>(
        `SELECT argMax(root, written_ms) AS root FROM ${db}.merkle_subtrees WHERE topic = '${TOPIC}' AND level = 9 AND idx = 1`,
      )
    )[0]?.root;
  const good = await root();
  assert.equal(good, subtreeRoot(leaves, 512, 1024).toString('hex'));
  // The subtree of leaves 512..1023 is on the path of leaf 5; a newer, wrong row replaces its stored root.
  await ch.command(
    `INSERT INTO ${db}.merkle_subtrees (topic, partition, level, idx, root, written_ms) VALUES ('${TOPIC}', 0, 9, 1, '${'ab'.repeat(32)}', ${Date.now()})`,
  );
  assert.equal(await root(), 'ab'.repeat(32));
  const doc = await proveRow(5, N);
  assert.deepEqual(
    doc.path,
    inclusionProof(leaves, 5, N).map((b) => b.toString('hex')),
  );
  assert.equal(leadsToRoot(doc), true);
  assert.equal(await root(), good, 'the stored root is rewritten from the leaves');
});

test('a tampered row with stored roots rewritten to match it does not pass: the path cannot reach the signed root', async () => {
  // The attacker changes row 900's hash and rewrites the stored roots above it over the changed leaves.
  const forged = 'cd'.repeat(32);
  await ch.command(`ALTER TABLE ${db}.events UPDATE hash = '${forged}' WHERE kafka_topic = '${TOPIC}' AND chain_seq = 901`);
  await waitFor(
    'the mutation to finish',
    () => ch.queryRows<{ n: string }>(`SELECT count() AS n FROM system.mutations WHERE database = '${db}' AND is_done = 0`),
    (r) => Number(r[0]?.n) === 0,
    60_000,
  );
  const tampered = [...leaves];
  tampered[900] = leafHash(Buffer.from(forged, 'hex'));
  const rootOf = (level: number, idx: number) => subtreeRoot(tampered, idx * 2 ** level, (idx + 1) * 2 ** level).toString('hex');
  await ch.command(
    `INSERT INTO ${db}.merkle_subtrees (topic, partition, level, idx, root, written_ms) VALUES ('${TOPIC}', 0, 8, 3, '${rootOf(8, 3)}', ${Date.now()}), ('${TOPIC}', 0, 10, 0, '${rootOf(10, 0)}', ${Date.now()})`,
  );
  // The forged leaf's own proof, and any other (every path covers the changed subtree, or passes its root): none reaches the signed root.
  for (const index of [900, 100, 1300]) {
    const doc = await proveRow(index, N);
    assert.equal(leadsToRoot(doc), false, `leaf ${index}`);
    assert.deepEqual(
      doc.path,
      inclusionProof(tampered, index, N).map((b) => b.toString('hex')),
      'the proof the stored leaves define, as before stored roots',
    );
  }
  const doc = await proveRow(900, N);
  const check = verifyProofDocument({ ...doc, entry: '{}' }, keys);
  assert.equal(check.ok, false);
});
