// The producer's buffer: the FIFO of queued events, the publishes waiting for space, and the
// accounting of what is buffered or in flight (the max_buffer_events / max_buffer_bytes limits).
import { AuditstreamError, Fifo } from '@auditstream/core';
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
  /** Queued events, oldest first. */
  private readonly queue = new Fifo<Pending>();
  // Publishes waiting for space, oldest first, with one timer for the oldest waiter's
  // max_block_ms deadline rather than one timer per waiter.
  private readonly waiters = new Fifo<Waiter>();
  private waiterTimer: NodeJS.Timeout | undefined;

  constructor(private readonly limits: BufferLimits) {}

  // --- the queue ---------------------------------------------------------------------------

  get size(): number {
    return this.queue.length;
  }

  head(): Pending | undefined {
    return this.queue.peek();
  }

  push(p: Pending): void {
    this.queue.push(p);
    this.queuedBytes += p.bytes;
  }

  /** Removes and returns the oldest queued event. */
  shift(): Pending | undefined {
    const p = this.queue.shift();
    if (p) this.queuedBytes -= p.bytes;
    return p;
  }

  /** The next batch: oldest first, at most maxEvents, and at most maxBytes unless one event alone is larger. */
  take(maxEvents: number, maxBytes: number): Pending[] {
    // Count first, then take them in one slice.
    const available = Math.min(maxEvents, this.queue.length);
    let n = 0;
    let bytes = 0;
    while (n < available) {
      const b = (this.queue.at(n) as Pending).bytes;
      if (n > 0 && bytes + b > maxBytes) break;
      bytes += b;
      n++;
    }
    this.queuedBytes -= bytes;
    return this.queue.take(n);
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
    return this.waiters.length;
  }

  /** Waits up to max_block_ms, and never past the event's own delivery deadline; resolves with the space reserved. */
  waitForSpace(bytes: number, deliveryDeadline: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiters.push({ bytes, deadline: Math.min(performance.now() + this.limits.maxBlockMs, deliveryDeadline), resolve, reject });
      this.armWaiterTimer();
    });
  }

  wakeWaiters(): void {
    for (let w = this.waiters.peek(); w && this.fits(w.bytes); w = this.waiters.peek()) {
      this.waiters.shift();
      this.reserve(w.bytes);
      w.resolve();
    }
  }

  /** Rejects every waiting publish (close). */
  rejectWaiters(err: () => unknown): void {
    for (const w of this.waiters.clear()) w.reject(err());
    if (this.waiterTimer) clearTimeout(this.waiterTimer);
    this.waiterTimer = undefined;
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
    const head = this.waiters.peek();
    if (this.waiterTimer || !head) return;
    this.waiterTimer = setTimeout(this.onWaiterDeadline, Math.max(0, head.deadline - performance.now()) + 1);
  }

  private readonly onWaiterDeadline = (): void => {
    this.waiterTimer = undefined;
    const now = performance.now();
    for (let w = this.waiters.peek(); w && w.deadline <= now; w = this.waiters.peek()) {
      this.waiters.shift();
      w.reject(this.bufferFullError());
    }
    this.armWaiterTimer();
  };
}
