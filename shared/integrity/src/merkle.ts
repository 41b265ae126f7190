import * as nodeCrypto from 'node:crypto';
import { createHash } from 'node:crypto';

/**
 * RFC 9162 (Certificate Transparency 2.0) Merkle trees, section 2.1: the tree hash, inclusion
 * and consistency proofs and their verification. Pure: hashes are 32-byte Buffers; the leaf
 * data of auditstream's trees is the 32 raw bytes of a chain entry's hash (docs/integrity.md).
 * Sizes and indexes are numbers (a partition holds far fewer than 2^53 entries).
 */

const LEAF = Buffer.from([0]);
const NODE = Buffer.from([1]);

// One-shot crypto.hash (Node ≥ 20.12) is about twice as fast as createHash for 33- and 65-byte inputs,
// which is what proof generation over a million leaves spends its time on.
const oneShot = (nodeCrypto as { hash?: (alg: string, data: Uint8Array, enc: 'buffer' | 'hex') => Buffer | string }).hash as
  | ((alg: string, data: Uint8Array, enc: 'buffer') => Buffer)
  | undefined;
const oneShotHex = oneShot as ((alg: string, data: Uint8Array, enc: 'hex') => string) | undefined;
const scratch = Buffer.alloc(65);
// Fixed views (a subarray per call is an object per call).
const scratch33 = scratch.subarray(0, 33);

/** leafHash of the 32 bytes a 64-hex-digit text (a chain entry's hash) stands for, as hex. */
export function leafHashHex(hex: string): string {
  scratch[0] = 0;
  if (!oneShotHex || scratch.write(hex, 1, 32, 'hex') !== 32 || hex.length !== 64) return leafHash(Buffer.from(hex, 'hex')).toString('hex');
  return oneShotHex('sha256', scratch33, 'hex');
}

// nodeHash over hex texts of 32-byte hashes (what MerkleFrontier keeps): a hex result costs a
// quarter of a Buffer result (a Buffer made by a native call is a new backing store).
function nodeHashHex(left: string, right: string): string {
  scratch[0] = 1;
  scratch.write(left, 1, 32, 'hex');
  scratch.write(right, 33, 32, 'hex');
  return oneShotHex ? oneShotHex('sha256', scratch, 'hex') : createHash('sha256').update(scratch).digest('hex');
}

export function leafHash(data: Uint8Array): Buffer {
  if (!oneShot || data.length !== 32) return createHash('sha256').update(LEAF).update(data).digest();
  scratch[0] = 0;
  scratch.set(data, 1);
  return oneShot('sha256', scratch33, 'buffer');
}

export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  if (!oneShot || left.length !== 32 || right.length !== 32) return createHash('sha256').update(NODE).update(left).update(right).digest();
  scratch[0] = 1;
  scratch.set(left, 1);
  scratch.set(right, 33);
  return oneShot('sha256', scratch, 'buffer');
}

/** MTH({}) = SHA-256 of nothing. */
export const EMPTY_ROOT = createHash('sha256').digest();

/** The largest power of two strictly below n (n ≥ 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * The compact range of a tree: the roots of its perfect subtrees, largest (leftmost) first, one
 * per set bit of the size. O(log n) state; appending a leaf is amortised O(1) hashes. This is
 * what the checkpointer keeps per partition instead of the leaves. The roots are kept as hex
 * (see nodeHashHex); Buffers at the edges.
 */
export class MerkleFrontier {
  private constructor(
    private n: number,
    private readonly nodes: string[],
  ) {}

  static empty(): MerkleFrontier {
    return new MerkleFrontier(0, []);
  }

  /** From a stored frontier; undefined when the count of nodes does not fit the size. */
  static from(size: number, nodes: readonly Buffer[]): MerkleFrontier | undefined {
    if (!Number.isSafeInteger(size) || size < 0 || popcount(size) !== nodes.length || nodes.some((b) => b.length !== 32)) return undefined;
    return new MerkleFrontier(
      size,
      nodes.map((b) => b.toString('hex')),
    );
  }

  get size(): number {
    return this.n;
  }

  /** A copy of the subtree roots, largest first. */
  get nodeList(): Buffer[] {
    return this.nodes.map((h) => Buffer.from(h, 'hex'));
  }

  appendLeafHash(h: Buffer): void {
    if (h.length !== 32) throw new RangeError('a Merkle leaf hash is 32 bytes');
    this.appendLeafHex(h.toString('hex'));
  }

  /** appendLeafHash(leafHash(<the 32 bytes of entryHashHex>)): what ingest appends per chained entry. */
  appendEntryHash(entryHashHex: string): void {
    this.appendLeafHex(leafHashHex(entryHashHex));
  }

  private appendLeafHex(h: string): void {
    let node = h;
    // Each trailing 1-bit of the old size is a subtree of equal height that the new node completes.
    for (let s = this.n; s & 1; s = Math.floor(s / 2)) node = nodeHashHex(this.nodes.pop() as string, node);
    this.nodes.push(node);
    this.n++;
  }

  root(): Buffer {
    if (this.nodes.length === 0) return EMPTY_ROOT;
    let r = this.nodes[this.nodes.length - 1] as string;
    for (let i = this.nodes.length - 2; i >= 0; i--) r = nodeHashHex(this.nodes[i] as string, r);
    return Buffer.from(r, 'hex');
  }

  clone(): MerkleFrontier {
    return new MerkleFrontier(this.n, [...this.nodes]);
  }
}

function popcount(n: number): number {
  let c = 0;
  for (let s = n; s > 0; s = Math.floor(s / 2)) c += s & 1;
  return c;
}

/** MTH(D[lo:hi]) over leaf hashes. */
export function subtreeRoot(leaves: readonly Buffer[], lo = 0, hi = leaves.length): Buffer {
  if (hi <= lo) return EMPTY_ROOT;
  const f = MerkleFrontier.empty();
  for (let i = lo; i < hi; i++) f.appendLeafHash(leaves[i] as Buffer);
  return f.root();
}

/** MTH(D[lo:hi)) of a node of the tree, however the caller obtains it (from leaves, from stored roots). */
export type RangeRoot = (lo: number, hi: number) => Buffer;

/** PATH(index, D[0:size]) (RFC 9162 2.1.3.1), leaf's sibling first, from the roots of the nodes it names. */
export function inclusionPath(root: RangeRoot, index: number, size: number): Buffer[] {
  if (!(index >= 0 && index < size)) throw new RangeError(`leaf index ${index} is not in a tree of size ${size}`);
  const path: Buffer[] = [];
  let lo = 0;
  let hi = size;
  let m = index;
  // Walk down from the root; each level contributes the root of the subtree the leaf is not in.
  while (hi - lo > 1) {
    const k = splitPoint(hi - lo);
    if (m < k) {
      path.push(root(lo + k, hi));
      hi = lo + k;
    } else {
      path.push(root(lo, lo + k));
      lo += k;
      m -= k;
    }
  }
  return path.reverse();
}

/** PROOF(m, D[0:n]) (RFC 9162 2.1.4.1): empty when m = n; 1 ≤ m ≤ n; from the roots of the nodes it names. */
export function consistencyPath(root: RangeRoot, m: number, n: number): Buffer[] {
  if (!(m >= 1 && m <= n)) throw new RangeError(`no consistency proof from size ${m} to size ${n}`);
  const proof: Buffer[] = [];
  let lo = 0;
  let hi = n;
  let mm = m;
  let complete = true;
  while (mm !== hi - lo) {
    const k = splitPoint(hi - lo);
    if (mm <= k) {
      proof.push(root(lo + k, hi));
      hi = lo + k;
    } else {
      proof.push(root(lo, lo + k));
      lo += k;
      mm -= k;
      complete = false;
    }
  }
  if (!complete) proof.push(root(lo, hi));
  return proof.reverse();
}

/** PATH(index, D[0:size]) over the first `size` leaf hashes (RFC 9162 2.1.3.1). */
export function inclusionProof(leaves: readonly Buffer[], index: number, size = leaves.length): Buffer[] {
  if (size > leaves.length) throw new RangeError(`leaf index ${index} is not in a tree of size ${size}`);
  return inclusionPath((lo, hi) => subtreeRoot(leaves, lo, hi), index, size);
}

/** PROOF(m, D[0:n]) (RFC 9162 2.1.4.1): empty when m = n; 1 ≤ m ≤ n ≤ leaves.length. */
export function consistencyProof(leaves: readonly Buffer[], m: number, n = leaves.length): Buffer[] {
  if (n > leaves.length) throw new RangeError(`no consistency proof from size ${m} to size ${n}`);
  return consistencyPath((lo, hi) => subtreeRoot(leaves, lo, hi), m, n);
}

/** RFC 9162 2.1.3.2: does `proof` place the leaf `hash` at `index` of the tree of `size` with `root`? */
export function verifyInclusion(index: number, size: number, hash: Buffer, proof: readonly Buffer[], root: Buffer): boolean {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return false;
  let fn = index;
  let sn = size - 1;
  let r = hash;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2;
        sn = Math.floor(sn / 2);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && r.equals(root);
}

/** RFC 9162 2.1.4.2: is the tree (size2, root2) an append-only extension of (size1, root1)? */
export function verifyConsistency(size1: number, size2: number, root1: Buffer, root2: Buffer, proof: readonly Buffer[]): boolean {
  if (!Number.isSafeInteger(size1) || !Number.isSafeInteger(size2) || size1 < 1 || size1 > size2) return false;
  if (size1 === size2) return proof.length === 0 && root1.equals(root2);
  if (proof.length === 0) return false;
  const path = popcount(size1) === 1 ? [root1, ...proof] : [...proof];
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = path[0] as Buffer;
  let sr = path[0] as Buffer;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2;
        sn = Math.floor(sn / 2);
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && fr.equals(root1) && sr.equals(root2);
}
