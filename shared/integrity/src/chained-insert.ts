import type { EventRow } from '@auditstream/clickhouse';
import type { Chainer, ChainLink } from './chainer.js';
import type { Checkpointer } from './checkpointer.js';

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
  const partitions = new Map<string, { topic: string; partition: number; head?: EventRow; count: number }>();
  for (const r of rows) {
    const k = `${r.kafka_topic}\u0000${r.kafka_partition}`;
    if (!partitions.has(k)) partitions.set(k, { topic: r.kafka_topic, partition: r.kafka_partition, count: 0 });
  }
  let links: ChainLink[];
  try {
    links = await deps.chainer.chainRows(rows);
    const toInsert = rows.filter((_, i) => links[i]?.status !== 'mismatch');
    if (toInsert.length > 0) await deps.insert(toInsert);
  } catch (err) {
    for (const p of partitions.values()) deps.chainer.rewind(p.topic, p.partition);
    throw err;
  }
  if (deps.checkpointer) {
    for (const r of rows) {
      const p = partitions.get(`${r.kafka_topic}\u0000${r.kafka_partition}`);
      if (!p) continue;
      p.count++;
      if (!p.head || BigInt(r.kafka_offset) > BigInt(p.head.kafka_offset)) p.head = r;
    }
    for (const p of partitions.values()) {
      if (p.head) deps.checkpointer.inserted(p.topic, p.partition, { offset: p.head.kafka_offset, chain_seq: p.head.chain_seq, hash: p.head.hash }, p.count);
    }
  }
  return links;
}
