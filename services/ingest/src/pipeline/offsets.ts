import { Fifo } from '@auditstream/core';

/**
 * Contiguous offset tracking, one partition at a time.
 *
 * Every message the consumer hands us is registered in order (`add`); it is marked done
 * once its row is in ClickHouse or its dead letter was acknowledged (`done`). The offset
 * we may commit for a partition is the lowest offset still pending (Kafka commits "the
 * next offset to read"), or, when nothing is pending, one past the last offset the
 * consumer delivered. So a committed offset never passes a message that is not stored,
 * whatever order flushes complete in.
 *
 * Offsets are int64 in Kafka: they are kept as bigint and exchanged as decimal strings,
 * the way kafkajs does.
 */
export interface OffsetTracker {
  /** Registers a delivered message. Offsets of one partition must be added in increasing order. */
  add(partition: number, offset: string): void;
  /** Marks the end of a delivered batch: offsets up to `lastOffset` exist no more as messages (e.g. control records). */
  seal(partition: number, lastOffset: string): void;
  /** Marks a message stored (or dead-lettered). Unknown offsets (after `forget`) are ignored. */
  done(partition: number, offset: string): void;
  /** Offsets that may be committed now and are past what was last committed, by partition. */
  committable(): { partition: number; offset: string }[];
  /** Records a successful commit so `committable` only reports progress. */
  committed(partition: number, offset: string): void;
  /** Messages added but not yet done, over all partitions. */
  pending(): number;
  /** Drops the state of partitions this instance no longer owns (after a rebalance), or of all. */
  forget(partitions?: number[]): void;
  partitions(): number[];
}

interface PartitionState {
  /** Pending offsets in delivery order. */
  offsets: Fifo<bigint>;
  doneSet: Set<bigint>;
  /** One past the highest offset delivered (message or sealed batch end). */
  end: bigint;
  lastCommitted: bigint;
}

export function createOffsetTracker(): OffsetTracker {
  const parts = new Map<number, PartitionState>();

  function state(partition: number): PartitionState {
    let s = parts.get(partition);
    if (!s) {
      s = { offsets: new Fifo(), doneSet: new Set(), end: -1n, lastCommitted: -1n };
      parts.set(partition, s);
    }
    return s;
  }

  function advance(s: PartitionState): void {
    while (s.offsets.length > 0) {
      const o = s.offsets.peek() as bigint;
      if (!s.doneSet.has(o)) break;
      s.doneSet.delete(o);
      s.offsets.shift();
    }
  }

  return {
    add(partition, offset) {
      const fresh = !parts.has(partition);
      const s = state(partition);
      const o = BigInt(offset);
      // The consumer fetched from the committed offset: committing o itself would be no progress.
      if (fresh) s.lastCommitted = o;
      const last = s.offsets.last() ?? -1n;
      if (o <= last) throw new Error(`offset ${offset} of partition ${partition} added out of order (after ${last})`);
      s.offsets.push(o);
      if (o + 1n > s.end) s.end = o + 1n;
    },
    seal(partition, lastOffset) {
      const s = state(partition);
      const o = BigInt(lastOffset) + 1n;
      if (o > s.end) s.end = o;
    },
    done(partition, offset) {
      const s = parts.get(partition);
      if (!s) return;
      const o = BigInt(offset);
      const oldest = s.offsets.peek();
      if (oldest === undefined || o < oldest) return;
      s.doneSet.add(o);
      advance(s);
    },
    committable() {
      const out: { partition: number; offset: string }[] = [];
      for (const [partition, s] of parts) {
        const next = s.offsets.peek() ?? s.end;
        if (next > s.lastCommitted && next >= 0n) out.push({ partition, offset: next.toString() });
      }
      return out.sort((a, b) => a.partition - b.partition);
    },
    committed(partition, offset) {
      const s = parts.get(partition);
      if (!s) return;
      const o = BigInt(offset);
      if (o > s.lastCommitted) s.lastCommitted = o;
    },
    pending() {
      let n = 0;
      for (const s of parts.values()) n += s.offsets.length;
      return n;
    },
    forget(partitions) {
      if (!partitions) parts.clear();
      else for (const p of partitions) parts.delete(p);
    },
    partitions() {
      return [...parts.keys()].sort((a, b) => a - b);
    },
  };
}
