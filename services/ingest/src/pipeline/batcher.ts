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
  const items: T[] = [];
  const sizes: number[] = [];
  const addedAt: number[] = [];
  let head = 0;
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
  const waiters: Waiter[] = [];

  const buffered = () => items.length - head;
  const report = () => options.onSize?.(buffered() + inflightRows, bufferedBytes + inflightBytes);

  function armTimer(): void {
    if (timer || buffered() === 0 || failure !== undefined) return;
    const wait = Math.max(0, (addedAt[head] as number) + options.maxAgeMs - now());
    timer = setTimeout(() => {
      timer = undefined;
      maybeFlush();
    }, wait);
  }

  function due(): boolean {
    if (buffered() === 0) return false;
    if (requestedSeq > flushedSeq + inflightRows) return true;
    if (buffered() >= options.maxRows || bufferedBytes >= options.maxBytes) return true;
    return now() - (addedAt[head] as number) >= options.maxAgeMs;
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
    while (head + n < items.length && n < options.maxRows) {
      const b = sizes[head + n] as number;
      if (n > 0 && bytes + b > options.maxBytes) break;
      bytes += b;
      n++;
    }
    const chunk = items.slice(head, head + n);
    head += n;
    bufferedBytes -= bytes;
    if (head > 4096 && head * 2 > items.length) {
      items.splice(0, head);
      sizes.splice(0, head);
      addedAt.splice(0, head);
      head = 0;
    }
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
        for (const w of waiters.splice(0)) w.reject(failure);
      },
    );
  }

  function settle(): void {
    let i = 0;
    while (i < waiters.length && (waiters[i] as Waiter).seq <= flushedSeq) {
      (waiters[i] as Waiter).resolve();
      i++;
    }
    if (i > 0) waiters.splice(0, i);
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
    add(entries) {
      if (failure !== undefined) return Promise.reject(failure);
      const t = now();
      for (const e of entries) {
        items.push(e.item);
        sizes.push(e.bytes);
        addedAt.push(t);
        bufferedBytes += e.bytes;
      }
      addedSeq += entries.length;
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
