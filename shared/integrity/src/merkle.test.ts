import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { consistencyProof, EMPTY_ROOT, inclusionProof, leafHash, MerkleFrontier, nodeHash, subtreeRoot, verifyConsistency, verifyInclusion } from './merkle.js';

// The naive, recursive definitions of RFC 9162 2.1.1, written independently of merkle.ts.
const sha = (...parts: Buffer[]) => createHash('sha256').update(Buffer.concat(parts)).digest();
function naiveMth(d: Buffer[]): Buffer {
  if (d.length === 0) return sha();
  if (d.length === 1) return sha(Buffer.from([0]), d[0] as Buffer);
  let k = 1;
  while (k * 2 < d.length) k *= 2;
  return sha(Buffer.from([1]), naiveMth(d.slice(0, k)), naiveMth(d.slice(k)));
}
function naivePath(m: number, d: Buffer[]): Buffer[] {
  if (d.length <= 1) return [];
  let k = 1;
  while (k * 2 < d.length) k *= 2;
  return m < k ? [...naivePath(m, d.slice(0, k)), naiveMth(d.slice(k))] : [...naivePath(m - k, d.slice(k)), naiveMth(d.slice(0, k))];
}
function naiveSubproof(m: number, d: Buffer[], b: boolean): Buffer[] {
  if (m === d.length) return b ? [] : [naiveMth(d)];
  let k = 1;
  while (k * 2 < d.length) k *= 2;
  return m <= k ? [...naiveSubproof(m, d.slice(0, k), b), naiveMth(d.slice(k))] : [...naiveSubproof(m - k, d.slice(k), false), naiveMth(d.slice(0, k))];
}

// The test vectors of RFC 6962's reference implementation (certificate-transparency), used by RFC 9162 logs.
const CT_LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((h) => Buffer.from(h, 'hex'));
const CT_ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];

const data = (i: number) => createHash('sha256').update(`entry ${i}`).digest();
const N = 64;
const LEAF_DATA = Array.from({ length: N }, (_, i) => data(i));
const LEAVES = LEAF_DATA.map(leafHash);

describe('merkle tree (RFC 9162)', () => {
  it('matches the certificate-transparency test vectors', () => {
    const f = MerkleFrontier.empty();
    CT_LEAVES.forEach((leaf, i) => {
      f.appendLeafHash(leafHash(leaf));
      assert.equal(f.root().toString('hex'), CT_ROOTS[i], `size ${i + 1}`);
    });
    assert.equal(EMPTY_ROOT.toString('hex'), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('the frontier, subtreeRoot and the naive MTH agree for every size up to 64', () => {
    const f = MerkleFrontier.empty();
    for (let n = 1; n <= N; n++) {
      f.appendLeafHash(LEAVES[n - 1] as Buffer);
      const naive = naiveMth(LEAF_DATA.slice(0, n));
      assert.deepEqual(f.root(), naive, `size ${n}`);
      assert.deepEqual(subtreeRoot(LEAVES, 0, n), naive);
      const again = MerkleFrontier.from(n, f.nodeList);
      assert.ok(again);
      assert.deepEqual(again.root(), naive);
    }
    assert.equal(MerkleFrontier.from(3, [LEAVES[0] as Buffer]), undefined, 'size 3 needs two subtree roots');
  });

  it('appendEntryHash (hex in, what ingest appends) builds the tree of the entry hashes as bytes', () => {
    const f = MerkleFrontier.empty();
    for (let n = 1; n <= N; n++) {
      f.appendEntryHash((LEAF_DATA[n - 1] as Buffer).toString('hex'));
      assert.deepEqual(f.root(), naiveMth(LEAF_DATA.slice(0, n)), `size ${n}`);
    }
    // A text that is not 64 hex digits is hashed as Buffer.from(text, 'hex') gives its bytes (as before hex came in).
    for (const odd of ['ab', `${'0'.repeat(63)}g`, 'f'.repeat(66)]) {
      const g = MerkleFrontier.empty();
      g.appendEntryHash(odd);
      assert.deepEqual(g.root(), naiveMth([Buffer.from(odd, 'hex')]), odd);
    }
  });

  it('inclusion proofs equal PATH and verify for every leaf of every size up to 64', () => {
    for (let n = 1; n <= N; n++) {
      const root = subtreeRoot(LEAVES, 0, n);
      for (let i = 0; i < n; i++) {
        const proof = inclusionProof(LEAVES, i, n);
        assert.deepEqual(proof, naivePath(i, LEAF_DATA.slice(0, n)), `PATH(${i}, ${n})`);
        assert.ok(verifyInclusion(i, n, LEAVES[i] as Buffer, proof, root), `verify ${i} in ${n}`);
      }
    }
  });

  it('consistency proofs equal PROOF and verify for every 1 ≤ m ≤ n ≤ 64', () => {
    for (let n = 1; n <= N; n++) {
      const root2 = subtreeRoot(LEAVES, 0, n);
      for (let m = 1; m <= n; m++) {
        const proof = consistencyProof(LEAVES, m, n);
        assert.deepEqual(proof, naiveSubproof(m, LEAF_DATA.slice(0, n), true), `PROOF(${m}, ${n})`);
        const root1 = subtreeRoot(LEAVES, 0, m);
        assert.ok(verifyConsistency(m, n, root1, root2, proof), `verify ${m} → ${n}`);
        if (m < n) {
          assert.equal(verifyConsistency(m, n, root2, root2, proof), false, `wrong first root ${m} → ${n}`);
          assert.equal(verifyConsistency(m, n, root1, root1, proof), false, `wrong second root ${m} → ${n}`);
          // A size is bound by the signed tree head; proofs of some neighbouring sizes have the same shape, so a doubled size is tested.
          assert.equal(verifyConsistency(m, n * 2, root1, root2, proof), false, `wrong size ${m} → ${n}`);
        }
      }
    }
  });

  it('rejects a changed leaf, a wrong index or size, another root, a changed or truncated path', () => {
    const n = 37;
    const root = subtreeRoot(LEAVES, 0, n);
    for (const i of [0, 5, 31, 32, 36]) {
      const proof = inclusionProof(LEAVES, i, n);
      const leaf = LEAVES[i] as Buffer;
      assert.equal(verifyInclusion(i, n, leafHash(data(999)), proof, root), false, 'changed leaf');
      assert.equal(verifyInclusion(i, n, nodeHash(leaf, leaf), proof, root), false, 'a node hash is not a leaf hash');
      assert.equal(verifyInclusion((i + 1) % n, n, leaf, proof, root), false, 'wrong index');
      assert.equal(verifyInclusion(i, n * 2, leaf, proof, root), false, 'wrong size');
      assert.equal(verifyInclusion(i, n, leaf, proof, subtreeRoot(LEAVES, 0, n + 1)), false, 'another root');
      assert.equal(verifyInclusion(i, n, leaf, proof.slice(0, -1), root), false, 'truncated path');
      assert.equal(verifyInclusion(i, n, leaf, [...proof, leaf], root), false, 'extended path');
      const bad = proof.map((b) => Buffer.from(b));
      const first = bad[0] as Buffer;
      first[0] = (first[0] as number) ^ 1;
      assert.equal(verifyInclusion(i, n, leaf, bad, root), false, 'changed path');
    }
    assert.equal(verifyInclusion(n, n, LEAVES[0] as Buffer, [], root), false, 'index beyond the size');
    assert.equal(verifyConsistency(5, 5, root, root, []), true);
    assert.equal(verifyConsistency(5, 7, root, root, []), false, 'an empty proof only for equal sizes');
    assert.equal(verifyConsistency(0, 7, EMPTY_ROOT, root, []), false, 'size 0 has no proof');
    assert.throws(() => inclusionProof(LEAVES, 3, 3), RangeError);
    assert.throws(() => consistencyProof(LEAVES, 4, 3), RangeError);
  });
});
