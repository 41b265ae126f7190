import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { signCheckpoint, signedCheckpoint } from './checkpoint.js';
import { generateSigningKey, loadPublicKeys, loadSigningKey } from './keys.js';
import { consistencyProof, inclusionProof, leafHash, subtreeRoot } from './merkle.js';
import { type ConsistencyProof, type InclusionProof, type TreeHead, verifyProofDocument } from './proofs.js';

const pair = generateSigningKey();
const key = loadSigningKey(pair.privatePem, 'test');
const keys = loadPublicKeys([pair.publicPem]);
const other = loadSigningKey(generateSigningKey().privatePem, 'other');

// A small chain built like ingest's format 1: entry i's JSON text ("v": 1), hash = SHA-256(prev || text).
const N = 21;
const chain: { text: string; prev: string; hash: string }[] = [];
for (let i = 1, prev = '0'.repeat(64); i <= N; i++) {
  const text = JSON.stringify({
    chain_seq: String(i),
    event_id: `e${i}`,
    kafka_offset: String(i + 9),
    kafka_partition: 3,
    kafka_topic: 't',
    prev_hash: prev,
    v: 1,
  });
  const hash = createHash('sha256').update(Buffer.from(prev, 'hex')).update(text).digest('hex');
  chain.push({ text, prev, hash });
  prev = hash;
}
const leaves = chain.map((e) => leafHash(Buffer.from(e.hash, 'hex')));
const head = (size: number, k = key): TreeHead =>
  signedCheckpoint(
    signCheckpoint(k, {
      topic: 't',
      partition: 3,
      last_offset: String(size + 9),
      chain_seq: String(size),
      chain_head: chain[size - 1]?.hash as string,
      created_at_s: 1_700_000_000,
      prev_checkpoint_hash: '0'.repeat(64),
      tree_size: String(size),
      tree_root: subtreeRoot(leaves, 0, size).toString('hex'),
    }),
  ) as TreeHead;

function inclusion(seq: number, size: number, k = key): InclusionProof {
  const e = chain[seq - 1] as (typeof chain)[number];
  return {
    type: 'inclusion',
    event_id: `e${seq}`,
    topic: 't',
    partition: 3,
    offset: String(seq + 9),
    chain_seq: String(seq),
    entry: e.text,
    prev_hash: e.prev,
    entry_hash: e.hash,
    leaf_index: seq - 1,
    path: inclusionProof(leaves, seq - 1, size).map((b) => b.toString('hex')),
    tree_head: head(size, k),
  };
}

test('an inclusion proof holds; a changed entry, leaf, size, root, path or key does not', () => {
  assert.equal(verifyProofDocument(inclusion(7, 21), keys).ok, true);
  assert.equal(verifyProofDocument(inclusion(21, 21), keys).ok, true);
  const p = inclusion(7, 21);
  const fails = (doc: unknown, why: RegExp) => {
    const r = verifyProofDocument(doc as InclusionProof, keys);
    assert.equal(r.ok, false, `${why}`);
    assert.match(r.detail, why);
  };
  fails({ ...p, entry: p.entry.replace('e7', 'e8') }, /does not hash/);
  const e8 = inclusion(8, 21);
  fails({ ...p, entry: e8.entry, prev_hash: e8.prev_hash, entry_hash: e8.entry_hash }, /not the one the proof names/);
  fails({ ...e8, leaf_index: 6, chain_seq: '7' }, /not the one the proof names/);
  fails({ ...p, tree_head: { ...p.tree_head, tree_size: '22' } }, /signature/);
  fails({ ...p, tree_head: head(20) }, /path does not lead/);
  fails({ ...p, path: [...p.path].reverse() }, /path does not lead/);
  fails(inclusion(7, 21, other), /not a trusted key/);
  fails({ ...p, tree_head: { ...head(21), partition: 4 } }, /signature|another partition/);
  fails({ type: 'nothing' }, /not a proof document/);
});

test('a consistency proof holds for every earlier size; swapped, resized or foreign heads do not', () => {
  const doc = (m: number, n: number): ConsistencyProof => ({
    type: 'consistency',
    topic: 't',
    partition: 3,
    from_size: String(m),
    to_size: String(n),
    path: consistencyProof(leaves, m, n).map((b) => b.toString('hex')),
    from_tree_head: head(m),
    to_tree_head: head(n),
  });
  for (let m = 1; m <= N; m++) assert.equal(verifyProofDocument(doc(m, N), keys).ok, true, `${m} → ${N}`);
  const d = doc(5, 13);
  assert.equal(verifyProofDocument({ ...d, from_tree_head: d.to_tree_head, to_tree_head: d.from_tree_head }, keys).ok, false);
  assert.equal(verifyProofDocument({ ...d, to_tree_head: head(14), to_size: '14' }, keys).ok, false, 'another tree');
  assert.equal(verifyProofDocument({ ...d, from_size: '6' }, keys).ok, false, 'sizes not the signed ones');
  assert.equal(verifyProofDocument({ ...d, to_tree_head: head(13, other) }, keys).ok, false, 'another key');
});
