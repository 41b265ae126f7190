import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { consistencyProof, inclusionProof, leafHash, subtreeRoot } from './merkle.js';
import { consistencyProofFrom, inclusionProofFrom, type PerfectRoot, perfectRootsNeeded, perfectRootsOf } from './merkle-nodes.js';

const leaves = (n: number) => Array.from({ length: n }, (_, i) => leafHash(createHash('sha256').update(String(i)).digest()));
// The perfect roots as the store would hold them: levels ≥ 2 from perfectRootsOf, the lower ones from the leaves.
function source(l: Buffer[]): PerfectRoot {
  const stored = new Map(perfectRootsOf(l, 0, 2).map((r) => [`${r.level}/${r.index}`, r.root]));
  return (level, index) => {
    if (level >= 2) {
      const r = stored.get(`${level}/${index}`);
      assert.ok(r, `perfect root ${level}/${index} exists`);
      return r;
    }
    return subtreeRoot(l, index * 2 ** level, (index + 1) * 2 ** level);
  };
}

describe('proofs from perfect subtree roots', () => {
  const l = leaves(70);
  const get = source(l);
  it('equal the leaf-based inclusion proofs for every size and index up to 70', () => {
    for (let n = 1; n <= 70; n++) for (let i = 0; i < n; i++) assert.deepEqual(inclusionProofFrom(get, i, n), inclusionProof(l, i, n), `${i} of ${n}`);
  });
  it('equal the leaf-based consistency proofs for every pair of sizes up to 70', () => {
    for (let n = 1; n <= 70; n++) for (let m = 1; m <= n; m++) assert.deepEqual(consistencyProofFrom(get, m, n), consistencyProof(l, m, n), `${m} to ${n}`);
  });
  it('read O(log² n) perfect roots, only small ones in at most two blocks', () => {
    const need = perfectRootsNeeded((g) => inclusionProofFrom(g, 333_333, 1_000_000));
    assert.ok(need.length <= 20 * 20, `${need.length} roots`);
    const blocks = new Set(need.filter((r) => r.level < 8).map((r) => Math.floor((r.index * 2 ** r.level) / 256)));
    assert.ok(blocks.size <= 2, `${[...blocks]}`);
  });
  it('perfectRootsOf an unaligned range gives only the subtrees wholly inside it', () => {
    const all = new Map(perfectRootsOf(l, 0, 0).map((r) => [`${r.level}/${r.index}`, r.root]));
    const part = perfectRootsOf(l.slice(5, 37), 5, 1);
    for (const r of part) {
      assert.ok(r.index * 2 ** r.level >= 5 && (r.index + 1) * 2 ** r.level <= 37);
      assert.deepEqual(r.root, all.get(`${r.level}/${r.index}`));
      assert.deepEqual(r.root, subtreeRoot(l, r.index * 2 ** r.level, (r.index + 1) * 2 ** r.level));
    }
    assert.deepEqual(
      part.map((r) => `${r.level}/${r.index}`).sort(),
      [
        '1/3',
        '1/4',
        '1/5',
        '1/6',
        '1/7',
        '1/8',
        '1/9',
        '1/10',
        '1/11',
        '1/12',
        '1/13',
        '1/14',
        '1/15',
        '1/16',
        '1/17',
        '2/2',
        '2/3',
        '2/4',
        '2/5',
        '2/6',
        '2/7',
        '2/8',
        '3/1',
        '3/2',
        '3/3',
        '4/1',
      ].sort(),
    );
  });
});
