// The sender: takes batches from the buffer, sends them (one produce request in flight), retries,
// completes events with their receipts, and enforces delivery_timeout_ms on what is pending.
import { hash as oneShotHash } from 'node:crypto';
import { AuditstreamError, backoffDelay, sleep } from '@auditstream/core';
import type { Message, RecordMetadata } from 'kafkajs';
import type { ProducerBuffer } from './buffer.js';
import { classify, kafkaReason, type ProducerConnection } from './connection.js';
import { ProducerErrorCode } from './errors.js';
import type { ProducerMetrics } from './metrics.js';
import type { MinimalLogger, PublishReceipt, ResolvedOptions } from './options.js';
import type { Pending, Settler } from './pending.js';

export interface SenderDeps {
  opts: ResolvedOptions;
  buffer: ProducerBuffer;
  settle: Settler;
  metrics: ProducerMetrics;
  connection: ProducerConnection;
  log: MinimalLogger | undefined;
  /** Bytes of the codec's framing header, left out of the content hash. */
  headerBytes: number;
}

export interface Sender {
  /** Queues an event whose buffer space is reserved. */
  enqueue(p: Pending): void;
  flush(): Promise<void>;
  /** Stops lingering: from now on whatever is queued is sent at once. */
  closing(): void;
  /** Rejects what is in flight or queued with PRODUCER_CLOSED and stops the timers; returns their ids. */
  abandon(): string[];
  inFlight(): number;
}

function closeError(p: Pending): AuditstreamError {
  return new AuditstreamError(
    ProducerErrorCode.CLOSED,
    `producer closed before Kafka acknowledged the event${p.sent ? ' (it was sent and may still have been written)' : ' (never sent)'}`,
    { details: { maybe_delivered: p.sent } },
  );
}

/** Settles a batch Kafka acknowledged: each event's receipt from its partition's base offset. */
function complete(deps: SenderDeps, batch: Pending[], md: RecordMetadata[]): void {
  const { opts, buffer, settle, headerBytes } = deps;
  const topic = opts.topic;
  // One record batch per partition per produce request: the message at position i of a
  // partition's list has offset baseOffset + i (kafkajs keeps our order within a partition).
  const base = new Map<number, number>();
  for (const r of md) if (r.topicName === topic && r.errorCode === 0) base.set(r.partition, Number(r.baseOffset));
  const now = performance.now();
  const withHash = opts.withHash;
  let ok = 0;
  for (let i = 0; i < batch.length; i++) {
    const p = batch[i] as Pending;
    const partition = p.message?.partition;
    const b = partition === undefined ? undefined : base.get(partition);
    if (partition === undefined || b === undefined) {
      settle.err(
        p,
        // Seen during a leader failover: the answer lacked a partition whose events were not written.
        // Whether they were is unknown here, so the caller may publish them again (event_id dedupes).
        new AuditstreamError(ProducerErrorCode.SEND_FAILED, `Kafka acknowledged the batch without an offset for partition ${partition} of ${topic}`, {
          retriable: true,
          details: { maybe_delivered: true },
        }),
      );
      continue;
    }
    base.set(partition, b + 1);
    if (p.settled) continue; // timed out while in flight; it did land after all
    ok++;
    // One literal per shape: adding content_hash afterwards would reshape every receipt.
    const receipt: PublishReceipt = withHash
      ? {
          event_id: p.eventId,
          topic,
          partition,
          offset: String(b),
          content_hash: oneShotHash('sha256', p.slab.subarray(p.start + headerBytes, p.start + p.bytes - p.key.length), 'hex'),
        }
      : { event_id: p.eventId, topic, partition, offset: String(b) };
    buffer.release(p);
    settle.ok(p, receipt, now);
  }
  settle.published(ok);
}

export function createSender(deps: SenderDeps): Sender {
  const { opts, buffer, settle, metrics, connection, log } = deps;
  const { topic, deliveryTimeoutMs, maxBatchEvents, maxBatchBytes, lingerMs } = opts;
  const flushWaiters: Array<{ target: number; resolve: () => void }> = [];
  let inflight: Pending[] | undefined;
  let seq = 0;
  let sending = false;
  let lingerTimer: NodeJS.Timeout | undefined;
  let deadlineTimer: NodeJS.Timeout | undefined;
  let closed = false;
  let closingHard = false;
  const hardStop = new AbortController();
  let lastError: unknown;
  let connectingNow = false;
  /** When the produce request now awaited was handed to kafkajs (0: none is). */
  let sendingSince = 0;

  function enqueue(p: Pending): void {
    p.seq = ++seq;
    p.accounted = true;
    buffer.push(p);
    if (!deadlineTimer) armDeadline();
    maybeSend();
  }

  function afterSettlement(): void {
    buffer.wakeWaiters();
    if (flushWaiters.length > 0) {
      const oldest = oldestUnsettledSeq();
      for (let i = flushWaiters.length - 1; i >= 0; i--) {
        const w = flushWaiters[i] as { target: number; resolve: () => void };
        if (w.target < oldest) {
          flushWaiters.splice(i, 1);
          w.resolve();
        }
      }
    }
  }

  function oldestUnsettledSeq(): number {
    if (inflight) for (const p of inflight) if (!p.settled) return p.seq;
    const head = buffer.head();
    return head ? head.seq : Number.POSITIVE_INFINITY;
  }

  // --- batching and sending -------------------------------------------------------------

  function maybeSend(): void {
    if (sending || buffer.size === 0) return;
    const full = buffer.size >= maxBatchEvents || buffer.queuedBytes >= maxBatchBytes;
    if (full || flushWaiters.length > 0 || closed) {
      startBatch();
      return;
    }
    if (lingerTimer) return;
    const head = buffer.head() as Pending;
    // From the publish() call (blocked publishes linger less, which is what they want).
    const wait = lingerMs - (performance.now() - (head.deadline - deliveryTimeoutMs));
    if (wait <= 0) {
      startBatch();
      return;
    }
    lingerTimer = setTimeout(() => {
      lingerTimer = undefined;
      if (!sending && buffer.size > 0) startBatch();
    }, wait);
  }

  function startBatch(): void {
    if (lingerTimer) {
      clearTimeout(lingerTimer);
      lingerTimer = undefined;
    }
    sending = true;
    const batch = buffer.take(maxBatchEvents, maxBatchBytes);
    inflight = batch;
    sendWithRetry(batch)
      .catch((err: unknown) => {
        // Never expected: sendWithRetry settles every event itself. Fail loudly, not silently.
        log?.error({ topic, err: (err as Error).message }, 'producer send loop failed');
        for (const p of batch) settle.err(p, new AuditstreamError(ProducerErrorCode.SEND_FAILED, 'producer send loop failed', { cause: err }));
      })
      .finally(() => {
        for (const p of batch) buffer.release(p);
        inflight = undefined;
        sending = false;
        afterSettlement();
        if (!deadlineTimer) armDeadline();
        maybeSend();
      });
  }

  async function sendWithRetry(batch: Pending[]): Promise<void> {
    metrics.batch();
    // Fixed at the first attempt that reaches kafkajs: a re-sent batch re-sends the same
    // messages (partitions pinned on them, same sequence numbers). Events that reached their
    // delivery deadline before it (while connecting or backing off) were rejected as never
    // sent, so they are left out rather than written after all.
    let sent = batch;
    let messages: Message[] | undefined;
    for (let attempt = 0; ; attempt++) {
      if (sent.every((p) => p.settled)) {
        // Every event timed out: give the batch up. If an attempt may have reached the
        // broker, its sequence numbers are in doubt: start over with a new producer id.
        if (messages) connection.reset('batch abandoned after delivery timeout');
        return;
      }
      if (closingHard) {
        for (const p of batch) settle.err(p, closeError(p));
        return;
      }
      let md: RecordMetadata[];
      try {
        connectingNow = true;
        const kp = await connection.get();
        connectingNow = false;
        if (!messages) {
          sent = batch.filter((p) => !p.settled);
          if (sent.length === 0) return;
          messages = new Array(sent.length);
          for (let i = 0; i < sent.length; i++) {
            const p = sent[i] as Pending;
            p.sent = true;
            p.message ??= { key: p.key, value: p.slab.subarray(p.start, p.start + p.bytes - p.key.length), partition: undefined };
            messages[i] = p.message;
          }
        }
        sendingSince = Date.now();
        md = await kp.sendBatch({ topicMessages: [{ topic, messages }], acks: -1, timeout: opts.ackTimeoutMs, compression: opts.compression });
        sendingSince = 0;
      } catch (err) {
        connectingNow = false;
        sendingSince = 0;
        lastError = err;
        const kind = classify(err);
        if (kind === 'fatal' || closingHard) {
          const e = new AuditstreamError(ProducerErrorCode.SEND_FAILED, `Kafka refused the batch for topic ${topic}: ${kafkaReason(err)}`, {
            retriable: false,
            cause: err,
          });
          for (const p of batch) settle.err(p, closingHard ? closeError(p) : e);
          return;
        }
        if (kind === 'reset') connection.reset(kafkaReason(err));
        metrics.retry();
        const delay = backoffDelay(attempt, opts.backoff);
        log?.warn({ topic, attempt: attempt + 1, delay_ms: delay, events: sent.length, reason: kafkaReason(err) }, 'send failed; retrying');
        await sleep(delay, hardStop.signal);
        continue;
      }
      lastError = undefined;
      complete(deps, sent, md);
      return;
    }
  }

  // --- delivery timeout -----------------------------------------------------------------

  function earliestDeadline(): number | undefined {
    if (inflight) for (const p of inflight) if (!p.settled) return p.deadline;
    return buffer.head()?.deadline;
  }

  function armDeadline(): void {
    const d = earliestDeadline();
    if (d === undefined) return;
    deadlineTimer = setTimeout(onDeadline, Math.max(0, d - performance.now()) + 1);
  }

  function timeoutError(sent: boolean): AuditstreamError {
    // A broker that died mid-request often leaves kafkajs retrying inside one sendBatch call
    // (reconnects, metadata refreshes) with no error surfaced yet: say so rather than nothing.
    const last = lastError
      ? `; last error: ${kafkaReason(lastError)}`
      : connectingNow
        ? '; still connecting to the Kafka brokers'
        : sendingSince
          ? `; a produce request has been waiting ${Date.now() - sendingSince} ms for the broker (kafkajs is retrying)`
          : '';
    return new AuditstreamError(
      ProducerErrorCode.DELIVERY_TIMEOUT,
      `event not acknowledged by Kafka within delivery_timeout_ms=${deliveryTimeoutMs} (${sent ? 'sent, it may still have been written' : 'never sent'})${last}`,
      { retriable: true, cause: lastError, details: { maybe_delivered: sent } },
    );
  }

  function onDeadline(): void {
    deadlineTimer = undefined;
    const now = performance.now();
    let any = false;
    if (inflight) {
      for (const p of inflight) {
        if (!p.settled && p.deadline <= now) {
          settle.err(p, timeoutError(p.sent));
          any = true;
        }
      }
    }
    while (buffer.size > 0 && (buffer.head() as Pending).deadline <= now) {
      const p = buffer.shift() as Pending;
      settle.err(p, timeoutError(false));
      buffer.release(p);
      any = true;
    }
    if (any) {
      log?.warn({ topic, reason: lastError ? kafkaReason(lastError) : undefined }, 'events reached delivery_timeout_ms without an acknowledgement');
      afterSettlement();
    }
    armDeadline();
  }

  // --- flush / close --------------------------------------------------------------------

  function flush(): Promise<void> {
    const target = seq;
    if (oldestUnsettledSeq() > target) return Promise.resolve();
    return new Promise((resolve) => {
      flushWaiters.push({ target, resolve });
      maybeSend();
    });
  }

  function abandon(): string[] {
    const undelivered: string[] = [];
    closingHard = true;
    hardStop.abort();
    for (const p of inflight ?? []) {
      if (!p.settled) {
        undelivered.push(p.eventId);
        settle.err(p, closeError(p));
      }
      // The send may never return (a hung broker): the producer is done with these now.
      buffer.release(p);
    }
    for (let p = buffer.shift(); p; p = buffer.shift()) {
      undelivered.push(p.eventId);
      settle.err(p, closeError(p));
      buffer.release(p);
    }
    afterSettlement();
    if (lingerTimer) clearTimeout(lingerTimer);
    if (deadlineTimer) clearTimeout(deadlineTimer);
    lingerTimer = deadlineTimer = undefined;
    return undelivered;
  }

  return {
    enqueue,
    flush,
    closing() {
      closed = true;
    },
    abandon,
    inFlight: () => inflight?.length ?? 0,
  };
}
