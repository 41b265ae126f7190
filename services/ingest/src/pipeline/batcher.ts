import { Fifo } from '@auditstream/core';

/**
 * The batcher pools what every partition's handler produced into one buffer, and hands
 * it to `flush` (one INSERT) when it holds `maxRows` items, or `maxBytes` bytes, or its
 * oldest item is `maxAgeMs` old, or when asked (`flushNow`: a fetch round is complete,
 * a rebalance or a shutdown). One flush runs at a time, oldest items first.
 *
 * `add` returns a promise that settles when every item it added has been flushed: the
 * consumer's batch handler awaits it, so the consumer fetches nothing more until then.
 * That await is the backpressure: while ClickHouse is slow or down, the buffer holds at
 * most what was fetched, and memory stays bounded.
 *
 * A flush that throws is fatal (the flush function retries what can be retried): every
 * pending and later `add` rejects with that error.
 */
export interface BatcherOptions<T> {
  maxRows: number;
  maxBytes: number;
  maxAgeMs: number;
  flush: (items: T[], stats: { rows: number; bytes: number }) => Promise<void>;
  /** Called whenever the held amount changes (for the buffer gauges). */
  onSize?: (rows: number, bytes: number) => void;
  now?: () => number;
}

export interface Batcher<T> {
  add(items: readonly { item: T; bytes: number }[]): Promise<void>;
  /** Flushes everything added so far, without waiting for a limit. */
  flushNow(): void;
  /** flushNow, then resolves when everything added so far is flushed. */
  drain(): Promise<void>;
  /** Items and bytes held: buffered plus inside the running flush. */
  size(): { rows: number; bytes: number };
  /** The fatal flush error, once there is one. */
  failed(): unknown;
}

interface Waiter {
  seq: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export function createBatcher<T>(options: BatcherOptions<T>): Batcher<T> {
  const now = options.now ?? Date.now;
  /** What add() was given, oldest first, and when each add happened (one time per entry). */
  const entries = new Fifo<{ item: T; bytes: number }>();
  const addedAt = new Fifo<number>();
  let bufferedBytes = 0;
  let inflightRows = 0;
  let inflightBytes = 0;
  /** Items ever added, and ever flushed: an add waits for flushedSeq to reach its seq. */
  let addedSeq = 0;
  let flushedSeq = 0;
  /** flushNow asked for everything up to this seq. */
  let requestedSeq = 0;
  let flushing = false;
  let failure: unknown;
  let timer: NodeJS.Timeout | undefined;
  const waiters = new Fifo<Waiter>();

  const buffered = () => entries.length;
  const report = () => options.onSize?.(buffered() + inflightRows, bufferedBytes + inflightBytes);

  function armTimer(): void {
    if (timer || buffered() === 0 || failure !== undefined) return;
    const wait = Math.max(0, (addedAt.peek() as number) + options.maxAgeMs - now());
    timer = setTimeout(() => {
      timer = undefined;
      maybeFlush();
    }, wait);
  }

  function due(): boolean {
    if (buffered() === 0) return false;
    if (requestedSeq > flushedSeq + inflightRows) return true;
    if (buffered() >= options.maxRows || bufferedBytes >= options.maxBytes) return true;
    return now() - (addedAt.peek() as number) >= options.maxAgeMs;
  }

  function maybeFlush(): void {
    if (flushing || failure !== undefined) return;
    if (!due()) {
      armTimer();
      return;
    }
    if (timer) {
      clearTimeout(timer);
      timer = undefined;
    }
    // Take the oldest items, up to the row and byte limits (at least one).
    let n = 0;
    let bytes = 0;
    while (n < entries.length && n < options.maxRows) {
      const b = (entries.at(n) as { bytes: number }).bytes;
      if (n > 0 && bytes + b > options.maxBytes) break;
      bytes += b;
      n++;
    }
    const chunk = entries.take(n).map((e) => e.item);
    addedAt.take(n);
    bufferedBytes -= bytes;
    flushing = true;
    inflightRows = n;
    inflightBytes = bytes;
    report();
    options.flush(chunk, { rows: n, bytes }).then(
      () => {
        flushing = false;
        flushedSeq += n;
        inflightRows = 0;
        inflightBytes = 0;
        report();
        settle();
        maybeFlush();
      },
      (err) => {
        flushing = false;
        failure = err ?? new Error('flush failed');
        for (const w of waiters.clear()) w.reject(failure);
      },
    );
  }

  function settle(): void {
    while (waiters.length > 0 && (waiters.peek() as Waiter).seq <= flushedSeq) (waiters.shift() as Waiter).resolve();
  }

  function waitFor(seq: number): Promise<void> {
    if (failure !== undefined) return Promise.reject(failure);
    if (seq <= flushedSeq) return Promise.resolve();
    return new Promise((resolve, reject) => {
      // Seqs only grow, so pushing keeps the list sorted.
      waiters.push({ seq, resolve, reject });
    });
  }

  return {
    add(added) {
      if (failure !== undefined) return Promise.reject(failure);
      const t = now();
      for (const e of added) {
        entries.push(e);
        addedAt.push(t);
        bufferedBytes += e.bytes;
      }
      addedSeq += added.length;
      report();
      const p = waitFor(addedSeq);
      maybeFlush();
      return p;
    },
    flushNow() {
      requestedSeq = addedSeq;
      maybeFlush();
    },
    drain() {
      requestedSeq = addedSeq;
      const p = waitFor(addedSeq);
      maybeFlush();
      return p;
    },
    size() {
      return { rows: buffered() + inflightRows, bytes: bufferedBytes + inflightBytes };
    },
    failed() {
      return failure;
    },
  };
}
