import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { AuditstreamError } from '@auditstream/core';
import { type Checkpoint, signedCheckpoint, verifyCheckpoint } from './checkpoint.js';
import { createCheckpointer, type InsertedEntry } from './checkpointer.js';
import { generateSigningKey, loadPublicKeys, loadSigningKey } from './keys.js';
import { leafHash, subtreeRoot } from './merkle.js';
import type { CheckpointStore } from './store.js';

const pair = generateSigningKey();
const key = loadSigningKey(pair.privatePem, 'test');
const keys = loadPublicKeys([pair.publicPem]);
const T = 'audit.events';
const entryHash = (seq: number) => createHash('sha256').update(`entry ${seq}`).digest('hex');
const entries = (from: number, to: number): InsertedEntry[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({ chain_seq: from + i, hash: entryHash(from + i), status: 'new' }));
const rootOf = (n: number) => subtreeRoot(Array.from({ length: n }, (_, i) => leafHash(Buffer.from(entryHash(i + 1), 'hex')))).toString('hex');

/** Stored entries 1..stored (offset = seq - 1) and the checkpoints; records every leaves() range read. */
function memoryStore(opts: { firstSeq?: number } = {}) {
  const checkpoints: Checkpoint[] = [];
  const reads: [bigint, bigint][] = [];
  let stored = 0;
  const store: CheckpointStore = {
    async lastCheckpoint() {
      return checkpoints[checkpoints.length - 1];
    },
    async insertCheckpoint(c) {
      checkpoints.push({ ...c });
    },
    async leaves(_t, _p, from, to) {
      reads.push([from, to]);
      if (from < BigInt(opts.firstSeq ?? 1) || to > BigInt(stored)) throw new AuditstreamError('INTEGRITY_TREE_INCOMPLETE', 'missing', { retriable: false });
      const out: Buffer[] = [];
      for (let s = Number(from); s <= Number(to); s++) out.push(Buffer.from(entryHash(s), 'hex'));
      return out;
    },
  };
  const setStored = (n: number) => {
    stored = n;
  };
  return { store, checkpoints, reads, setStored };
}

function checkpointer(store: CheckpointStore, merkle = true) {
  return createCheckpointer({ store, signingKey: key, everyEvents: 1_000_000, intervalMs: 60_000, merkle, logger: { info() {}, warn() {}, error() {} } });
}
const headAt = (seq: number) => ({ offset: seq - 1, chain_seq: seq, hash: entryHash(seq) });

test('each checkpoint signs the tree head over entries 1..chain_seq, kept in memory: no store reads after the first', async () => {
  const m = memoryStore();
  const cp = checkpointer(m.store);
  await cp.assign(T, 0);
  for (const [from, to] of [
    [1, 5],
    [6, 37],
    [38, 64],
    [65, 65],
  ] as const) {
    m.setStored(to);
    cp.inserted(T, 0, headAt(to), to - from + 1, entries(from, to));
    await cp.flush();
    const c = m.checkpoints[m.checkpoints.length - 1] as Checkpoint;
    assert.equal(c.tree_size, String(to));
    assert.equal(c.tree_root, rootOf(to), `root at ${to}`);
    assert.deepEqual(verifyCheckpoint(c, keys), { ok: true }, 'the tree head is covered by the signature');
    assert.equal(c.tree_frontier?.length, 64 * (to.toString(2).match(/1/g)?.length ?? 0));
  }
  assert.deepEqual(m.reads, [], 'the frontier was built from the entries told, never read back');
  // Altering the signed tree head breaks the signature.
  const forged = { ...(m.checkpoints[0] as Checkpoint), tree_root: rootOf(6) };
  assert.deepEqual(verifyCheckpoint(forged, keys), { ok: false, problem: 'bad_signature' });
  assert.deepEqual(verifyCheckpoint({ ...(m.checkpoints[0] as Checkpoint), tree_size: '6' }, keys), { ok: false, problem: 'bad_signature' });
  assert.equal(signedCheckpoint(m.checkpoints[0] as Checkpoint).tree_frontier, undefined);
});

test('after a restart it resumes from the stored frontier and reads only the entries since the last checkpoint', async () => {
  const m = memoryStore();
  const first = checkpointer(m.store);
  await first.assign(T, 0);
  m.setStored(1000);
  first.inserted(T, 0, headAt(1000), 1000, entries(1, 1000));
  await first.flush();
  m.setStored(1300); // stored, then the process died before the next checkpoint
  const second = checkpointer(m.store);
  await second.assign(T, 0);
  second.inserted(T, 0, headAt(1300), 300); // e.g. re-delivered: no entries told
  await second.flush();
  assert.deepEqual(m.reads, [[1001n, 1300n]]);
  assert.equal(m.checkpoints[1]?.tree_root, rootOf(1300));
  // A conflict re-chains an existing position: the tree is rebuilt from the frontier and the store.
  m.setStored(1310);
  second.inserted(T, 0, headAt(1310), 10, [{ chain_seq: 1300, hash: entryHash(1300), status: 'conflict' }, ...entries(1301, 1310)]);
  await second.flush();
  assert.deepEqual(m.reads[1], [1301n, 1310n], 'resumed from the checkpoint at 1300');
  assert.equal(m.checkpoints[2]?.tree_root, rootOf(1310));
});

test('a frontier whose root is not the signed one is not trusted: the tree is rebuilt from entry 1', async () => {
  const m = memoryStore();
  const first = checkpointer(m.store);
  await first.assign(T, 0);
  m.setStored(100);
  first.inserted(T, 0, headAt(100), 100, entries(1, 100));
  await first.flush();
  const last = m.checkpoints[0] as Checkpoint;
  last.tree_frontier = 'f'.repeat(last.tree_frontier?.length ?? 0);
  m.setStored(120);
  const second = checkpointer(m.store);
  await second.assign(T, 0);
  second.inserted(T, 0, headAt(120), 20);
  await second.flush();
  assert.deepEqual(m.reads, [[1n, 120n]]);
  assert.equal(m.checkpoints[1]?.tree_root, rootOf(120));
});

test('without the early entries (retention) or with merkle off, checkpoints are version 1 and still verify', async () => {
  const m = memoryStore({ firstSeq: 50 });
  const cp = checkpointer(m.store);
  await cp.assign(T, 0);
  m.setStored(100);
  cp.inserted(T, 0, headAt(100), 51);
  await cp.flush();
  assert.equal(m.checkpoints[0]?.tree_root, undefined);
  assert.deepEqual(verifyCheckpoint(m.checkpoints[0] as Checkpoint, keys), { ok: true });
  const off = memoryStore();
  const cpOff = checkpointer(off.store, false);
  await cpOff.assign(T, 0);
  off.setStored(10);
  cpOff.inserted(T, 0, headAt(10), 10, entries(1, 10));
  await cpOff.flush();
  assert.equal(off.checkpoints[0]?.tree_size, undefined);
  assert.deepEqual(off.reads, []);
  assert.deepEqual(verifyCheckpoint(off.checkpoints[0] as Checkpoint, keys), { ok: true });
});

test('a failed read of the entries does not hold up the checkpoint: it is signed without a tree head, the next one has it', async () => {
  const m = memoryStore();
  let down = true;
  const leaves = m.store.leaves;
  m.store.leaves = async (...a) => {
    if (down) throw new AuditstreamError('CLICKHOUSE_UNAVAILABLE', 'down', { retriable: true });
    return leaves(...a);
  };
  const cp = checkpointer(m.store);
  await cp.assign(T, 0);
  m.setStored(30);
  cp.inserted(T, 0, headAt(30), 30); // entries not told: the tree must be read
  await cp.flush();
  assert.equal(m.checkpoints.length, 1);
  assert.equal(m.checkpoints[0]?.tree_root, undefined);
  down = false;
  m.setStored(40);
  cp.inserted(T, 0, headAt(40), 10);
  await cp.flush();
  assert.equal(m.checkpoints[1]?.tree_root, rootOf(40));
});
