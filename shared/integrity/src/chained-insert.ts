import type { EventRow } from '@auditstream/clickhouse';
import type { Chainer, ChainLink } from './chainer.js';
import type { Checkpointer, InsertedEntry } from './checkpointer.js';

export interface ChainedInsertDeps {
  chainer: Chainer;
  /** Told about every stored batch (optional: without it no checkpoints are signed). */
  checkpointer?: Checkpointer;
  /** The real INSERT, e.g. `(rows) => insertRows(ch, rows)`. */
  insert: (rows: EventRow[]) => Promise<void>;
}

/**
 * Wraps an INSERT of rows built by toRow so that every row is hash-chained right before it is
 * sent, in the order rows are stored:
 *   1. chainRows(rows): chain values set on each row, per partition in offset order;
 *   2. the INSERT, without the rows whose re-delivered copy differs from the stored row (`mismatch`);
 *   3. on success: checkpointer.inserted(partition head, count) per partition;
 *      on failure: chainer.rewind for every partition of the batch, then the error is rethrown,
 *      so a retry, or the bisection that isolates rows ClickHouse refuses, chains again from
 *      what is stored (a refused row gets no chain entry).
 * Calls are serialized (two INSERTs of one partition must not interleave their chains). The
 * caller must attempt rows in offset order per partition, as ingest's sink does (one batch,
 * then its left half before its right half).
 */
export function createChainedInsert(deps: ChainedInsertDeps): (rows: EventRow[]) => Promise<ChainLink[]> {
  let tail: Promise<unknown> = Promise.resolve();
  return (rows) => {
    const run = tail.then(() => chainAndInsert(deps, rows));
    tail = run.catch(() => {});
    return run;
  };
}

async function chainAndInsert(deps: ChainedInsertDeps, rows: EventRow[]): Promise<ChainLink[]> {
  if (rows.length === 0) return [];
  const partitions = new Map<string, PartitionOfBatch>();
  // Each row's partition entry; consecutive rows mostly share one, so the map is rarely consulted.
  const partOf: PartitionOfBatch[] = new Array(rows.length);
  let p: PartitionOfBatch | undefined;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i] as EventRow;
    if (!p || p.topic !== r.kafka_topic || p.partition !== r.kafka_partition) {
      const k = `${r.kafka_topic}\u0000${r.kafka_partition}`;
      p = partitions.get(k);
      if (!p) {
        p = { topic: r.kafka_topic, partition: r.kafka_partition, count: 0, entries: [] };
        partitions.set(k, p);
      }
    }
    partOf[i] = p;
  }
  let links: ChainLink[];
  try {
    links = await deps.chainer.chainRows(rows);
    const toInsert = rows.filter((_, i) => links[i]?.status !== 'mismatch');
    if (toInsert.length > 0) await deps.insert(toInsert);
  } catch (err) {
    for (const q of partitions.values()) deps.chainer.rewind(q.topic, q.partition);
    throw err;
  }
  if (deps.checkpointer) {
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i] as EventRow;
      const q = partOf[i] as PartitionOfBatch;
      const status = links[i]?.status;
      if (status !== 'mismatch') q.entries.push({ chain_seq: r.chain_seq, hash: r.hash, status });
      q.count++;
      if (!q.head || offsetAbove(r.kafka_offset, q.head.kafka_offset)) q.head = r;
    }
    for (const q of partitions.values()) {
      if (q.head)
        deps.checkpointer.inserted(q.topic, q.partition, { offset: q.head.kafka_offset, chain_seq: q.head.chain_seq, hash: q.head.hash }, q.count, q.entries);
    }
  }
  return links;
}

interface PartitionOfBatch {
  topic: string;
  partition: number;
  head?: EventRow;
  count: number;
  /** The batch's stored entries in the order stored (the Merkle tree's next leaves). */
  entries: InsertedEntry[];
}

const CANONICAL_DECIMAL = /^(?:0|[1-9][0-9]*)$/;

/** BigInt(a) > BigInt(b) for decimal offsets, compared as text when both are canonical (as toRow writes them). */
function offsetAbove(a: string, b: string): boolean {
  if (CANONICAL_DECIMAL.test(a) && CANONICAL_DECIMAL.test(b)) return a.length !== b.length ? a.length > b.length : a > b;
  return BigInt(a) > BigInt(b);
}
