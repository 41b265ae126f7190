import type { KeyObject } from 'node:crypto';
import { type ClickHouse, sql, table } from '@auditstream/clickhouse';
import { type Checkpoint, signedCheckpoint, verifyCheckpoint } from './checkpoint.js';
import { entryJsonHash } from './entry.js';
import { consistencyProof, inclusionProof, leafHash, verifyConsistency, verifyInclusion } from './merkle.js';
import { consistencyProofFrom, inclusionProofFrom, type PerfectRoot } from './merkle-nodes.js';
import { checkpointFromRow } from './store.js';
import { rewriteStoredRoots, storedRootSource } from './subtree-store.js';
import { readLeafEntries } from './tree-store.js';

/**
 * The proof documents of docs/integrity.md ("Proofs"): built by the API from the store, checked
 * offline by `auditstream proof verify` (and the Python script of the docs) with only the public
 * key. A tree head is a version 2 checkpoint: its Ed25519 signature covers tree_size and tree_root.
 */
export type TreeHead = Checkpoint & { tree_size: string; tree_root: string };

export interface InclusionProof {
  type: 'inclusion';
  event_id: string;
  topic: string;
  partition: number;
  offset: string;
  chain_seq: string;
  /** The chain entry as RFC 8785 JSON, `v` its format (entry.ts entryJson); entry_hash = entryJsonHash(entry, prev_hash). */
  entry: string;
  prev_hash: string;
  entry_hash: string;
  /** chain_seq - 1. */
  leaf_index: number;
  /** Lowercase hex hashes, leaf's sibling first (RFC 9162 2.1.3). */
  path: string[];
  tree_head: TreeHead;
}

export interface ConsistencyProof {
  type: 'consistency';
  topic: string;
  partition: number;
  from_size: string;
  to_size: string;
  path: string[];
  from_tree_head: TreeHead;
  to_tree_head: TreeHead;
}

export type ProofDocument = InclusionProof | ConsistencyProof;

const TREE_HEAD_COLUMNS = sql`topic, \`partition\`, toString(last_offset) AS lo, toString(chain_seq) AS cs, chain_head,
  toUnixTimestamp(created_at) AS cat, prev_checkpoint_hash, key_id, signature, toString(tree_size) AS ts, tree_root, '' AS tree_frontier`;

/** The signed tree heads of a partition: the latest (size undefined), or those of one size; newest first. */
export async function readTreeHeads(ch: ClickHouse, q: { topic?: string; partition: number; size?: bigint }): Promise<TreeHead[]> {
  const topic = q.topic === undefined ? sql`` : sql` AND topic = ${q.topic}`;
  const size = q.size === undefined ? sql`` : sql` AND tree_size = ${q.size}`;
  const rows = await ch.queryRows<Parameters<typeof checkpointFromRow>[0]>(
    sql`SELECT ${TREE_HEAD_COLUMNS} FROM ${table(ch.database, 'checkpoints')}
WHERE \`partition\` = ${q.partition}${topic}${size} AND tree_size > 0
ORDER BY tree_size DESC, created_at DESC
${q.size === undefined ? sql`LIMIT 1` : sql`LIMIT 10`}`,
    { operation: 'integrity_tree_heads' },
  );
  return rows.map((r) => signedCheckpoint(checkpointFromRow(r)) as TreeHead);
}

const hex = (b: Buffer) => b.toString('hex');

/** The leaf hashes 1..size of a partition (reads size × 32 bytes from the events table). */
async function leafHashes(ch: ClickHouse, topic: string, partition: number, size: bigint, o: ProofOptions): Promise<Buffer[]> {
  return (await readLeafEntries(ch, topic, partition, 1n, size, o)).map(leafHash);
}

/** Bounds the leaf reads (the API passes api.export_timeout_s: filling the stored roots may read a whole partition, like an export). */
export interface ProofOptions {
  max_execution_time_s?: number;
}

/**
 * A proof path from the stored subtree roots (subtree-store.ts), kept when it leads to the signed
 * root; otherwise (a stored root is wrong, or so is the leaf) the path of today's definition over
 * every stored leaf, and the stored roots are rewritten from those leaves. Either way the document
 * is the one the leaves define, and only the signed tree head makes it pass.
 */
async function provenPath(
  ch: ClickHouse,
  head: TreeHead,
  build: (get: PerfectRoot) => Buffer[],
  fromLeaves: (leaves: Buffer[]) => Buffer[],
  leadsToRoot: (path: Buffer[]) => boolean,
  options: ProofOptions,
): Promise<Buffer[]> {
  const at = { topic: head.topic, partition: head.partition, size: Number(head.tree_size) };
  const path = build(await storedRootSource(ch, at, build, options));
  if (leadsToRoot(path)) return path;
  const leaves = await leafHashes(ch, head.topic, head.partition, BigInt(head.tree_size), options);
  await rewriteStoredRoots(ch, at, leaves);
  return fromLeaves(leaves);
}

/**
 * The inclusion path of leaf `index` in the tree of `head`, from the stored roots only (no leaf-based
 * fallback): the single-event check (verify-event-proof.ts) tests it against the signed root itself.
 */
export async function storedInclusionPath(ch: ClickHouse, head: TreeHead, index: number, options: ProofOptions = {}): Promise<Buffer[]> {
  const size = Number(head.tree_size);
  const build = (get: PerfectRoot) => inclusionProofFrom(get, index, size);
  return build(await storedRootSource(ch, { topic: head.topic, partition: head.partition, size }, build, options));
}

export async function buildInclusionProof(
  ch: ClickHouse,
  e: { event_id: string; topic: string; partition: number; offset: string; chain_seq: string; prev_hash: string; entry_hash: string; entry: string },
  head: TreeHead,
  options: ProofOptions = {},
): Promise<InclusionProof> {
  const index = Number(e.chain_seq) - 1;
  const size = Number(head.tree_size);
  const leaf = leafHash(Buffer.from(e.entry_hash, 'hex'));
  const path = await provenPath(
    ch,
    head,
    (get) => inclusionProofFrom(get, index, size),
    (leaves) => inclusionProof(leaves, index),
    (p) => verifyInclusion(index, size, leaf, p, Buffer.from(head.tree_root, 'hex')),
    options,
  );
  return { type: 'inclusion', ...e, leaf_index: index, path: path.map(hex), tree_head: head };
}

export async function buildConsistencyProof(ch: ClickHouse, from: TreeHead, to: TreeHead, options: ProofOptions = {}): Promise<ConsistencyProof> {
  const m = Number(from.tree_size);
  const n = Number(to.tree_size);
  const path = await provenPath(
    ch,
    to,
    (get) => consistencyProofFrom(get, m, n),
    (leaves) => consistencyProof(leaves, m),
    (p) => verifyConsistency(m, n, Buffer.from(from.tree_root, 'hex'), Buffer.from(to.tree_root, 'hex'), p),
    options,
  );
  return {
    type: 'consistency',
    topic: to.topic,
    partition: to.partition,
    from_size: from.tree_size,
    to_size: to.tree_size,
    path: path.map(hex),
    from_tree_head: from,
    to_tree_head: to,
  };
}

export interface ProofCheck {
  ok: boolean;
  /** What failed first, or what was proven. */
  detail: string;
}

const HEX64 = /^[0-9a-f]{64}$/;
const fail = (detail: string): ProofCheck => ({ ok: false, detail });

function checkHead(h: TreeHead | undefined, keys: ReadonlyMap<string, KeyObject>, what: string): string | undefined {
  if (!h || typeof h !== 'object' || typeof h.tree_root !== 'string' || !HEX64.test(h.tree_root) || !/^\d+$/.test(String(h.tree_size)))
    return `${what} is not a signed tree head (tree_size, tree_root)`;
  const c = verifyCheckpoint(h, keys);
  if (!c.ok) return c.problem === 'unknown_key' ? `${what} is signed by key ${h.key_id}, not a trusted key` : `${what}'s signature does not verify`;
  return undefined;
}

const buffers = (path: unknown): Buffer[] | undefined =>
  Array.isArray(path) && path.every((p) => typeof p === 'string' && HEX64.test(p)) ? path.map((p) => Buffer.from(p as string, 'hex')) : undefined;

/** Checks a proof document offline with the trusted public keys (docs/integrity.md "Checking a proof"). */
export function verifyProofDocument(doc: ProofDocument, keys: ReadonlyMap<string, KeyObject>): ProofCheck {
  if (doc?.type === 'inclusion') {
    const bad = checkHead(doc.tree_head, keys, 'the tree head');
    if (bad) return fail(bad);
    const h = doc.tree_head;
    if (h.topic !== doc.topic || h.partition !== doc.partition) return fail('the tree head is of another partition');
    if (typeof doc.entry !== 'string' || !HEX64.test(doc.prev_hash ?? '') || !HEX64.test(doc.entry_hash ?? ''))
      return fail('entry, prev_hash or entry_hash missing');
    let computed: string;
    try {
      computed = entryJsonHash(doc.entry, doc.prev_hash);
    } catch (err) {
      return fail((err as Error).message);
    }
    if (computed !== doc.entry_hash) return fail('the entry does not hash to entry_hash: the event was changed');
    const entry = JSON.parse(doc.entry) as Record<string, unknown>;
    if (
      entry.event_id !== doc.event_id ||
      entry.chain_seq !== doc.chain_seq ||
      entry.prev_hash !== doc.prev_hash ||
      entry.kafka_topic !== doc.topic ||
      entry.kafka_partition !== doc.partition ||
      entry.kafka_offset !== doc.offset
    )
      return fail('the entry is not the one the proof names (event_id, chain_seq, prev_hash, topic, partition, offset)');
    if (!Number.isSafeInteger(doc.leaf_index) || String(doc.leaf_index + 1) !== doc.chain_seq) return fail('leaf_index is not chain_seq - 1');
    const path = buffers(doc.path);
    if (!path) return fail('path is not a list of hex hashes');
    const leaf = leafHash(Buffer.from(doc.entry_hash, 'hex'));
    if (!verifyInclusion(doc.leaf_index, Number(h.tree_size), leaf, path, Buffer.from(h.tree_root, 'hex')))
      return fail(`the path does not lead from leaf ${doc.leaf_index} to the signed root of tree size ${h.tree_size}`);
    return {
      ok: true,
      detail: `event ${doc.event_id} is entry ${doc.chain_seq} of ${h.topic}/${h.partition}, in the tree of size ${h.tree_size} signed by ${h.key_id}`,
    };
  }
  if (doc?.type === 'consistency') {
    const bad = checkHead(doc.from_tree_head, keys, 'from_tree_head') ?? checkHead(doc.to_tree_head, keys, 'to_tree_head');
    if (bad) return fail(bad);
    const a = doc.from_tree_head;
    const b = doc.to_tree_head;
    if (a.topic !== b.topic || a.partition !== b.partition || a.topic !== doc.topic || a.partition !== doc.partition)
      return fail('the tree heads are of different partitions');
    if (a.tree_size !== doc.from_size || b.tree_size !== doc.to_size) return fail('from_size/to_size are not the signed tree sizes');
    const path = buffers(doc.path);
    if (!path) return fail('path is not a list of hex hashes');
    if (!verifyConsistency(Number(a.tree_size), Number(b.tree_size), Buffer.from(a.tree_root, 'hex'), Buffer.from(b.tree_root, 'hex'), path))
      return fail(`the tree of size ${b.tree_size} is not an append-only extension of the tree of size ${a.tree_size}`);
    return { ok: true, detail: `${a.topic}/${a.partition}: the tree of size ${b.tree_size} extends the tree of size ${a.tree_size} (both signed)` };
  }
  return fail('not a proof document (type must be inclusion or consistency)');
}
