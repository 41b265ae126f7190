// One event from publish() to its outcome, one publishMany() call, and how either is settled.
import { AuditstreamError, errorType, isRetriable } from '@auditstream/core';
import { ProducerErrorCode } from './errors.js';
import type { ProducerMetrics } from './metrics.js';
import type { PublishReceipt } from './options.js';

/** The kafkajs message of an event: key, value, and the partition the pinning partitioner writes back. */
export interface OutMessage {
  key: string;
  value: Buffer;
  /** Declared up front (undefined until the partitioner pins it) so pinning never reshapes the object. */
  partition: number | undefined;
}

function noop(): void {}

/**
 * One event from publish() to its outcome. Kept small: thousands are alive while Kafka is
 * busy, and every byte of them is copied by the young-generation GC (once when they survive a
 * scavenge, once when promoted). Hence one time field (double fields are boxed: 16 bytes each)
 * from which the others are derived, and the encoded bytes as a slab offset rather than a
 * Buffer view: the kafkajs message and its view (~150 bytes) are made when the event's batch
 * is sent, so they live one produce request, not the whole wait in the buffer.
 */
export class Pending {
  seq = 0;
  /** The kafkajs message, made when the event's batch is first sent (kept for its retries). */
  message: OutMessage | undefined = undefined;
  settled = false;
  /** A produce request carrying it was handed to kafkajs: it may have been written. */
  sent = false;
  accounted = false;
  resolve: (r: PublishReceipt) => void = noop;
  reject: (e: unknown) => void = noop;
  /** publishMany(): the call this event belongs to, and its index there (one promise per call). */
  group: Group | undefined = undefined;
  index = 0;
  constructor(
    readonly eventId: string,
    readonly key: string,
    /** The encoded event is bytes [start, start + bytes - key.length) of slab (shared, immutable). */
    readonly slab: Buffer,
    readonly start: number,
    /** Encoded bytes + key length: what counts against the buffer and batch limits. */
    readonly bytes: number,
    /**
     * performance.now() of the publish() call + delivery_timeout_ms: the delivery deadline. The
     * publish time (latency, linger) is deadline - delivery_timeout_ms. Monotonic clock.
     */
    readonly deadline: number,
  ) {}
}

/** The outcome of one publishMany() call, settled when its last event is. */
export class Group {
  failures = 0;
  readonly results: Array<PublishReceipt | AuditstreamError | undefined>;
  constructor(
    public remaining: number,
    readonly resolve: (r: PublishReceipt[]) => void,
    readonly reject: (e: unknown) => void,
  ) {
    this.results = new Array(remaining);
  }
}

/** Settles events (each exactly once) and counts the outcomes for stats() and the metrics. */
export interface Settler {
  ok(p: Pending, receipt: PublishReceipt, now: number): void;
  err(p: Pending, err: AuditstreamError): void;
  /** A grouped event that never reached the queue (no buffer space, or closed meanwhile). */
  failBeforeQueue(p: Pending, err: unknown): void;
  /** Rejects before anything was queued; `events` is how many events the call carried. */
  rejectEarly(err: unknown, events?: number): Promise<never>;
  /** Counts events Kafka acknowledged (complete() counts a batch at once). */
  published(n: number): void;
  readonly totals: { published: number; failed: number };
}

export function createSettler(metrics: ProducerMetrics, deliveryTimeoutMs: number): Settler {
  const totals = { published: 0, failed: 0 };

  function settleInGroup(g: Group, index: number, outcome: PublishReceipt | AuditstreamError, failed: boolean): void {
    g.results[index] = outcome;
    if (failed) g.failures++;
    if (--g.remaining > 0) return;
    if (g.failures === 0) {
      g.resolve(g.results as PublishReceipt[]);
      return;
    }
    let first: AuditstreamError | undefined;
    let retriable = true;
    const results = g.results.map((r) => {
      if (r instanceof Error) {
        first ??= r;
        retriable &&= isRetriable(r);
        return { error: r };
      }
      return { receipt: r as PublishReceipt };
    });
    const e = first as AuditstreamError;
    g.reject(
      new AuditstreamError(ProducerErrorCode.SEND_FAILED, `${g.failures} of ${results.length} events were not delivered: ${e.message}`, {
        retriable,
        cause: e,
        details: { results },
      }),
    );
  }

  return {
    totals,
    ok(p, receipt, now) {
      if (p.settled) return;
      p.settled = true;
      metrics.latency((now - (p.deadline - deliveryTimeoutMs)) / 1000);
      if (p.group) settleInGroup(p.group, p.index, receipt, false);
      else p.resolve(receipt);
    },
    err(p, err) {
      if (p.settled) return;
      p.settled = true;
      totals.failed++;
      metrics.failed(err.code, 1);
      if (p.group) settleInGroup(p.group, p.index, err, true);
      else p.reject(err);
    },
    failBeforeQueue(p, err) {
      p.settled = true;
      totals.failed++;
      metrics.failed(errorType(err), 1);
      settleInGroup(p.group as Group, p.index, err as AuditstreamError, true);
    },
    rejectEarly(err, events = 1) {
      totals.failed += events;
      metrics.failed(errorType(err), events);
      return Promise.reject(err);
    },
    published(n) {
      totals.published += n;
      metrics.published(n);
    },
  };
}
