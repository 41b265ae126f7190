// The producer's buffer: the FIFO of queued events, the publishes waiting for space, and the
// accounting of what is buffered or in flight (the max_buffer_events / max_buffer_bytes limits).
import { AuditstreamError } from '@auditstream/core';
import { ProducerErrorCode } from './errors.js';
import type { Pending } from './pending.js';

interface Waiter {
  bytes: number;
  deadline: number;
  resolve: () => void;
  reject: (e: unknown) => void;
}

export interface BufferLimits {
  maxBufferEvents: number;
  maxBufferBytes: number;
  maxBlockMs: number;
}

export class ProducerBuffer {
  /** Events buffered or in flight (reserved), and their bytes: what the limits apply to. */
  bufferedEvents = 0;
  bufferedBytes = 0;
  /** Bytes of the events queued and not yet taken into a batch. */
  queuedBytes = 0;
  // Queued events, oldest first: array + head index (no O(n) shift).
  private queue: Array<Pending | undefined> = [];
  private qHead = 0;
  // Publishes waiting for space, the same way, with one timer for the oldest waiter's
  // max_block_ms deadline rather than one timer per waiter.
  private waiters: Array<Waiter | undefined> = [];
  private wHead = 0;
  private waiterTimer: NodeJS.Timeout | undefined;

  constructor(private readonly limits: BufferLimits) {}

  // --- the queue ---------------------------------------------------------------------------

  get size(): number {
    return this.queue.length - this.qHead;
  }

  head(): Pending | undefined {
    return this.queue[this.qHead];
  }

  push(p: Pending): void {
    this.queue.push(p);
    this.queuedBytes += p.bytes;
  }

  /** Removes and returns the oldest queued event. */
  shift(): Pending | undefined {
    if (this.qHead >= this.queue.length) return undefined;
    const p = this.queue[this.qHead] as Pending;
    this.queue[this.qHead++] = undefined;
    this.queuedBytes -= p.bytes;
    return p;
  }

  /** The next batch: oldest first, at most maxEvents, and at most maxBytes unless one event alone is larger. */
  take(maxEvents: number, maxBytes: number): Pending[] {
    const batch: Pending[] = [];
    let bytes = 0;
    while (this.qHead < this.queue.length && batch.length < maxEvents) {
      const p = this.queue[this.qHead] as Pending;
      if (batch.length > 0 && bytes + p.bytes > maxBytes) break;
      this.queue[this.qHead++] = undefined;
      bytes += p.bytes;
      this.queuedBytes -= p.bytes;
      batch.push(p);
    }
    if (this.qHead > 4096 && this.qHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.qHead);
      this.qHead = 0;
    }
    return batch;
  }

  // --- accounting --------------------------------------------------------------------------

  fits(bytes: number): boolean {
    // An event larger than the whole byte budget still gets in alone (it passed max_event_bytes).
    return this.bufferedEvents < this.limits.maxBufferEvents && (this.bufferedBytes + bytes <= this.limits.maxBufferBytes || this.bufferedEvents === 0);
  }

  reserve(bytes: number): void {
    this.bufferedEvents++;
    this.bufferedBytes += bytes;
  }

  /** Gives back a reservation whose event was never queued. */
  unreserve(bytes: number): void {
    this.bufferedEvents--;
    this.bufferedBytes -= bytes;
    this.wakeWaiters();
  }

  /** Gives back the space of a queued event once it is settled (or abandoned); idempotent. */
  release(p: Pending): void {
    if (!p.accounted) return;
    p.accounted = false;
    this.bufferedEvents--;
    this.bufferedBytes -= p.bytes;
  }

  // --- waiting for space -------------------------------------------------------------------

  get waiting(): number {
    return this.waiters.length - this.wHead;
  }

  /** Waits up to max_block_ms, and never past the event's own delivery deadline; resolves with the space reserved. */
  waitForSpace(bytes: number, deliveryDeadline: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiters.push({ bytes, deadline: Math.min(performance.now() + this.limits.maxBlockMs, deliveryDeadline), resolve, reject });
      this.armWaiterTimer();
    });
  }

  wakeWaiters(): void {
    while (this.wHead < this.waiters.length) {
      const w = this.waiters[this.wHead] as Waiter;
      if (!this.fits(w.bytes)) break;
      this.waiters[this.wHead++] = undefined;
      this.reserve(w.bytes);
      w.resolve();
    }
    this.compactWaiters();
  }

  /** Rejects every waiting publish (close). */
  rejectWaiters(err: () => unknown): void {
    while (this.wHead < this.waiters.length) {
      const w = this.waiters[this.wHead] as Waiter;
      this.waiters[this.wHead++] = undefined;
      w.reject(err());
    }
    this.compactWaiters();
    if (this.waiterTimer) clearTimeout(this.waiterTimer);
    this.waiterTimer = undefined;
  }

  private compactWaiters(): void {
    if (this.wHead === this.waiters.length) {
      this.waiters = [];
      this.wHead = 0;
    } else if (this.wHead > 1024 && this.wHead * 2 > this.waiters.length) {
      this.waiters = this.waiters.slice(this.wHead);
      this.wHead = 0;
    }
  }

  private bufferFullError(): AuditstreamError {
    const { maxBufferEvents, maxBufferBytes, maxBlockMs } = this.limits;
    return new AuditstreamError(
      ProducerErrorCode.BUFFER_FULL,
      `producer buffer full (${this.bufferedEvents} events, ${this.bufferedBytes} bytes; limits max_buffer_events=${maxBufferEvents}, max_buffer_bytes=${maxBufferBytes}) for max_block_ms=${maxBlockMs}`,
      { retriable: true },
    );
  }

  private armWaiterTimer(): void {
    if (this.waiterTimer || this.wHead >= this.waiters.length) return;
    const head = this.waiters[this.wHead] as Waiter;
    this.waiterTimer = setTimeout(this.onWaiterDeadline, Math.max(0, head.deadline - performance.now()) + 1);
  }

  private readonly onWaiterDeadline = (): void => {
    this.waiterTimer = undefined;
    const now = performance.now();
    while (this.wHead < this.waiters.length && (this.waiters[this.wHead] as Waiter).deadline <= now) {
      const w = this.waiters[this.wHead] as Waiter;
      this.waiters[this.wHead++] = undefined;
      w.reject(this.bufferFullError());
    }
    this.compactWaiters();
    this.armWaiterTimer();
  };
}
