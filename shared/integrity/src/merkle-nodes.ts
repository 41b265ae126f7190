import { consistencyPath, EMPTY_ROOT, inclusionPath, nodeHash } from './merkle.js';

/**
 * RFC 9162 proofs built from the roots of perfect, aligned subtrees instead of from every leaf.
 * Every node of the tree covers D[lo:hi) with lo a multiple of the smallest power of two ≥ hi - lo,
 * so its hash is the fold of at most log n perfect aligned subtrees (one per set bit of hi - lo):
 * a proof needs O(log² n) of them, which a store of completed subtree roots answers without the
 * leaves. The paths equal inclusionProof / consistencyProof of merkle.ts (merkle-nodes.test.ts).
 */

/** MTH of the perfect subtree of 2^level leaves starting at leaf index × 2^level. */
export type PerfectRoot = (level: number, index: number) => Buffer;

/** MTH(D[lo:hi)) of a node of the tree, from its perfect aligned pieces, largest first, folded from the right. */
function nodeRoot(get: PerfectRoot, lo: number, hi: number): Buffer {
  if (hi <= lo) return EMPTY_ROOT;
  const pieces: Buffer[] = [];
  let at = lo;
  for (let level = Math.floor(Math.log2(hi - lo)); level >= 0; level--) {
    const size = 2 ** level;
    if (hi - at >= size) {
      pieces.push(get(level, at / size));
      at += size;
    }
  }
  let r = pieces[pieces.length - 1] as Buffer;
  for (let i = pieces.length - 2; i >= 0; i--) r = nodeHash(pieces[i] as Buffer, r);
  return r;
}

/** PATH(index, D[0:size]) (RFC 9162 2.1.3.1), leaf's sibling first. */
export function inclusionProofFrom(get: PerfectRoot, index: number, size: number): Buffer[] {
  return inclusionPath((lo, hi) => nodeRoot(get, lo, hi), index, size);
}

/** PROOF(m, D[0:n]) (RFC 9162 2.1.4.1), 1 ≤ m ≤ n. */
export function consistencyProofFrom(get: PerfectRoot, m: number, n: number): Buffer[] {
  return consistencyPath((lo, hi) => nodeRoot(get, lo, hi), m, n);
}

/** The perfect subtrees (level, index) a proof reads: a dry run with placeholder hashes. */
export function perfectRootsNeeded(build: (get: PerfectRoot) => unknown): { level: number; index: number }[] {
  const seen = new Map<string, { level: number; index: number }>();
  build((level, index) => {
    seen.set(`${level}/${index}`, { level, index });
    return EMPTY_ROOT;
  });
  return [...seen.values()];
}

/**
 * The roots of every perfect aligned subtree of `minLevel` or more inside leaves [first, first +
 * leafHashes.length): level by level, pairing the level below.
 */
export function perfectRootsOf(leafHashes: readonly Buffer[], first: number, minLevel: number): { level: number; index: number; root: Buffer }[] {
  const out: { level: number; index: number; root: Buffer }[] = [];
  let row: readonly Buffer[] = leafHashes;
  let start = first;
  for (let level = 0; row.length >= 1; level++) {
    if (level >= minLevel) for (let i = 0; i < row.length; i++) out.push({ level, index: start + i, root: row[i] as Buffer });
    // A node of the level above starts at an even index: an odd first one is the right half of a pair begun before the range.
    const skip = start % 2;
    const up: Buffer[] = [];
    for (let i = skip; i + 1 < row.length; i += 2) up.push(nodeHash(row[i] as Buffer, row[i + 1] as Buffer));
    row = up;
    start = (start + skip) / 2;
  }
  return out;
}
