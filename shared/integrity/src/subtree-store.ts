import { type ClickHouse, sql, table } from '@auditstream/clickhouse';
import { leafHash, subtreeRoot } from './merkle.js';
import { type PerfectRoot, perfectRootsNeeded, perfectRootsOf } from './merkle-nodes.js';
import { readLeafEntries } from './tree-store.js';

/**
 * The proof builder's store of perfect subtree roots (table merkle_subtrees, migration 013; see
 * docs/integrity.md "Stored subtree roots"). Roots of 2^STORED_LEVEL leaves and up are read from
 * the table; the ones a proof needs and the table lacks are computed once from their leaves and
 * written back (lazily, by the reader: ingest's hot path is untouched). Smaller ones come from at
 * most two blocks of 2^STORED_LEVEL leaves (the proven leaf's and the tree's unfinished tail).
 * The roots are a cache, not evidence: every proof is checked against the signed tree head.
 */
export const STORED_LEVEL = 8;
const BLOCK = 2 ** STORED_LEVEL;

export interface RootReadOptions {
  max_execution_time_s?: number;
}

type Node = { level: number; index: number };
const key = (level: number, index: number) => `${level}/${index}`;

/**
 * A PerfectRoot answering every node `build` asks for over the partition's tree of `size` leaves.
 * Rejects with INTEGRITY_TREE_INCOMPLETE (from readLeafEntries) when a leaf it must read is missing.
 */
export async function storedRootSource(
  ch: ClickHouse,
  at: { topic: string; partition: number; size: number },
  build: (get: PerfectRoot) => unknown,
  options: RootReadOptions = {},
): Promise<PerfectRoot> {
  const needed = perfectRootsNeeded(build);
  const big = needed.filter((n) => n.level >= STORED_LEVEL);
  const blockIds = [...new Set(needed.filter((n) => n.level < STORED_LEVEL).map((n) => Math.floor((n.index * 2 ** n.level) / BLOCK)))];
  // The stored roots and the (at most two) leaf blocks at once: each is a read of its own.
  const [roots, ...blockLeaves] = await Promise.all([
    readStoredRoots(ch, at, big),
    ...blockIds.map(async (b) =>
      (await readLeafEntries(ch, at.topic, at.partition, BigInt(b * BLOCK + 1), BigInt(Math.min((b + 1) * BLOCK, at.size)), options)).map(leafHash),
    ),
  ]);
  const blocks = new Map(blockIds.map((b, i) => [b, blockLeaves[i] as Buffer[]]));
  const missing = big.filter((n) => !roots.has(key(n.level, n.index)));
  if (missing.length > 0) {
    const fresh: { level: number; index: number; root: Buffer }[] = [];
    for (const [lo, hi] of leafRanges(missing)) {
      const hashes = (await readLeafEntries(ch, at.topic, at.partition, BigInt(lo + 1), BigInt(hi), options)).map(leafHash);
      fresh.push(...perfectRootsOf(hashes, lo, STORED_LEVEL));
    }
    for (const r of fresh) roots.set(key(r.level, r.index), r.root);
    await writeRoots(ch, at, fresh);
  }
  return (level, index) => {
    if (level >= STORED_LEVEL) return roots.get(key(level, index)) as Buffer;
    const first = index * 2 ** level;
    const block = blocks.get(Math.floor(first / BLOCK)) as Buffer[];
    return subtreeRoot(block, first % BLOCK, (first % BLOCK) + 2 ** level);
  };
}

/** Replaces the stored roots of a partition's tree with those of its leaves (after a proof from the store failed). */
export async function rewriteStoredRoots(ch: ClickHouse, at: { topic: string; partition: number }, leafHashes: readonly Buffer[]): Promise<void> {
  await writeRoots(ch, at, perfectRootsOf(leafHashes, 0, STORED_LEVEL));
}

/** The leaf ranges [lo, hi) of the nodes, overlapping and adjacent ones merged. */
function leafRanges(nodes: readonly Node[]): [number, number][] {
  const spans = nodes.map((n) => [n.index * 2 ** n.level, (n.index + 1) * 2 ** n.level] as [number, number]).sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const s of spans) {
    const last = out[out.length - 1];
    if (last && s[0] <= last[1]) last[1] = Math.max(last[1], s[1]);
    else out.push([s[0], s[1]]);
  }
  return out;
}

async function readStoredRoots(ch: ClickHouse, at: { topic: string; partition: number }, nodes: readonly Node[]): Promise<Map<string, Buffer>> {
  const roots = new Map<string, Buffer>();
  if (nodes.length === 0) return roots;
  const rows = await ch.queryRows<{ k: string; root: string }>(
    sql`SELECT concat(toString(level), '/', toString(idx)) AS k, argMax(root, written_ms) AS root FROM ${table(ch.database, 'merkle_subtrees')}
WHERE topic = ${at.topic} AND \`partition\` = ${at.partition} AND level >= ${STORED_LEVEL} AND has(${nodes.map((n) => key(n.level, n.index))}, k)
GROUP BY k`,
    { operation: 'integrity_subtree_roots' },
  );
  for (const r of rows) if (/^[0-9a-f]{64}$/.test(r.root)) roots.set(r.k, Buffer.from(r.root, 'hex'));
  return roots;
}

async function writeRoots(
  ch: ClickHouse,
  at: { topic: string; partition: number },
  roots: readonly { level: number; index: number; root: Buffer }[],
): Promise<void> {
  if (roots.length === 0) return;
  const written_ms = Date.now();
  await ch.insertJson(
    'merkle_subtrees',
    roots.map((r) => ({ topic: at.topic, partition: at.partition, level: r.level, idx: r.index, root: r.root.toString('hex'), written_ms })),
    { operation: 'integrity_subtree_roots_write' },
  );
}
