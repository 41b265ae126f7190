import { hash as oneShotHash } from 'node:crypto';
import { type AuditCodec, createCodec } from '@auditstream/codec';
import { AuditstreamError, backoffDelay, errorType, isRetriable, sleep } from '@auditstream/core';
import { CompressionTypes, type ICustomPartitioner, type Kafka, type Message, Partitioners, type Producer, type RecordMetadata } from 'kafkajs';
import type { Registry } from 'prom-client';
import { AuditEventValidationError, ProducerErrorCode } from './errors.js';
import { createProducerMetrics } from './metrics.js';
import { createEventNormalizer, type PublishInput, type ValidationOptions } from './validate.js';

/** Where an acknowledged event landed. */
export interface PublishReceipt {
  event_id: string;
  topic: string;
  partition: number;
  /** Kafka offset (int64, as a decimal string like kafkajs). */
  offset: string;
  /** SHA-256 (hex) of the encoded Avro body, framing header excluded: what tamper-evidence chains. */
  content_hash?: string;
}

export interface CloseReport {
  /** Events still pending when the close timeout ran out: rejected with PRODUCER_CLOSED. */
  undelivered: number;
  undelivered_event_ids: string[];
}

interface MinimalLogger {
  error: (obj: object, msg?: string) => void;
  warn: (obj: object, msg?: string) => void;
  info: (obj: object, msg?: string) => void;
  debug: (obj: object, msg?: string) => void;
}

/** The slice of a kafkajs Producer the SDK drives (a fake in unit tests). */
export type KafkaProducerLike = Pick<Producer, 'connect' | 'disconnect' | 'sendBatch'>;

export interface AuditProducerOptions extends ValidationOptions {
  /** A kafkajs client (createKafkaClient from @auditstream/kafka); the SDK builds its own idempotent producer. */
  kafka: { producer: Kafka['producer'] } | { producer: (config: Parameters<Kafka['producer']>[0]) => KafkaProducerLike };
  /** Topic events are published to (config topics.events). */
  topic: string;
  /** Default: createCodec() (single-object encoding). */
  codec?: AuditCodec;
  logger?: MinimalLogger;
  /** prom-client registry for auditstream_producer_* metrics. */
  metrics?: Registry;
  /** How long a batch waits for more events before it is sent. Default 5. */
  linger_ms?: number;
  /** Events per produce request. Default 1000. */
  max_batch_events?: number;
  /** Encoded bytes per produce request. Default 512 KiB (under the broker's 1 MiB message.max.bytes). */
  max_batch_bytes?: number;
  /** Events buffered or in flight. Default 20000. */
  max_buffer_events?: number;
  /** Encoded bytes buffered or in flight. Default 32 MiB. */
  max_buffer_bytes?: number;
  /** How long publish() waits for buffer space before PRODUCER_BUFFER_FULL. Default 5000. */
  max_block_ms?: number;
  /** Upper bound from publish() to its outcome; then PRODUCER_DELIVERY_TIMEOUT. Default 30000. */
  delivery_timeout_ms?: number;
  /** Largest encoded event. Default 64 KiB. */
  max_event_bytes?: number;
  /** Broker-side wait for the in-sync replicas (acks=all). Default 30000. */
  ack_timeout_ms?: number;
  /** Retries inside kafkajs for one send attempt; the SDK retries further until the delivery timeout. Default 5. */
  kafka_retries?: number;
  /** SDK-level retry backoff between send attempts. Defaults 100 / 5000. */
  retry_initial_delay_ms?: number;
  retry_max_delay_ms?: number;
  compression?: 'none' | 'gzip';
  /** Compute the receipt's content_hash. Default true. */
  content_hash?: boolean;
  /** Default for close(). Default 10000. */
  close_timeout_ms?: number;
}

export interface AuditProducer {
  /** Validates, encodes and buffers the event; resolves once Kafka acknowledged it (acks=all). */
  publish(event: PublishInput): Promise<PublishReceipt>;
  /**
   * All or nothing up front (every event is validated before any is buffered), then each is
   * delivered on its own; resolves with receipts in input order, or rejects with
   * PRODUCER_SEND_FAILED whose details.results holds each event's receipt or error.
   */
  publishMany(events: readonly PublishInput[]): Promise<PublishReceipt[]>;
  /** Sends what is buffered now and resolves when every event published before the call has its outcome. */
  flush(): Promise<void>;
  /** Stops accepting events, flushes within timeout_ms, rejects what is left, disconnects. */
  close(options?: { timeout_ms?: number }): Promise<CloseReport>;
  /** Connects eagerly (otherwise the first batch does). */
  connect(): Promise<void>;
  stats(): ProducerStats;
}

export interface ProducerStats {
  buffered_events: number;
  buffered_bytes: number;
  in_flight_events: number;
  published_total: number;
  failed_total: number;
}

/** One event from publish() to its outcome. Created once per event: the hot path's only object besides the message. */
class Pending {
  seq = 0;
  enqueuedAt = 0;
  deadline = 0;
  settled = false;
  /** A produce request carrying it was handed to kafkajs: it may have been written. */
  sent = false;
  accounted = false;
  resolve: (r: PublishReceipt) => void = noop;
  reject: (e: unknown) => void = noop;
  constructor(
    readonly eventId: string,
    readonly message: Message,
    readonly bytes: number,
    readonly hash: string | undefined,
    readonly started: number,
  ) {}
}

function noop(): void {}

interface Waiter {
  bytes: number;
  deadline: number;
  resolve: () => void;
  reject: (e: unknown) => void;
}

// Kafka errors after which the idempotent producer state (producer id, sequences) is suspect:
// start over with a fresh producer id rather than fail.
const RESET_TYPES = new Set([
  'OUT_OF_ORDER_SEQUENCE_NUMBER',
  'INVALID_PRODUCER_EPOCH',
  'UNKNOWN_PRODUCER_ID',
  'INVALID_PRODUCER_ID_MAPPING',
  'DUPLICATE_SEQUENCE_NUMBER',
]);
// Retrying these cannot help.
const FATAL_TYPES = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'CORRUPT_MESSAGE',
  'INVALID_TOPIC_EXCEPTION',
  'TOPIC_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
  'UNSUPPORTED_VERSION',
  'UNSUPPORTED_FOR_MESSAGE_FORMAT',
  'POLICY_VIOLATION',
]);

function classify(err: unknown): 'retry' | 'reset' | 'fatal' {
  let e = err as { name?: string; type?: string; cause?: unknown; retriable?: boolean };
  if (e?.name === 'KafkaJSNumberOfRetriesExceeded' && e.cause) e = e.cause as typeof e;
  if (e?.type && RESET_TYPES.has(e.type)) return 'reset';
  if (e?.type && FATAL_TYPES.has(e.type)) return 'fatal';
  return isRetriable(e) ? 'retry' : 'fatal';
}

function kafkaReason(err: unknown): string {
  const e = err as { name?: string; type?: string; message?: string; cause?: { type?: string; message?: string } };
  const inner = e?.name === 'KafkaJSNumberOfRetriesExceeded' && e.cause ? e.cause : e;
  return inner?.type ? `${inner.type} (${inner.message ?? ''})` : (inner?.message ?? String(err));
}

/**
 * Pins each message's partition the first time kafkajs asks, using kafkajs's default
 * (murmur2 of the key, Java-compatible) partitioner. The SDK reads the pinned partition back
 * to build receipts, and a retried batch keeps its partitions, so the idempotent
 * producer's sequence numbers stay valid.
 */
export const pinningPartitioner: ICustomPartitioner = () => {
  const inner = Partitioners.DefaultPartitioner();
  return (args) => {
    const m = args.message;
    if (m.partition !== undefined && m.partition !== null) return m.partition;
    const p = inner(args);
    m.partition = p;
    return p;
  };
};

export function createAuditProducer(options: AuditProducerOptions): AuditProducer {
  const topic = options.topic;
  if (!topic) throw new AuditstreamError('CONFIG_INVALID', 'producer topic is required', { field: 'topic' });
  const codec = options.codec ?? createCodec();
  const log = options.logger;
  const lingerMs = options.linger_ms ?? 5;
  const maxBatchEvents = options.max_batch_events ?? 1000;
  const maxBatchBytes = options.max_batch_bytes ?? 512 * 1024;
  const maxBufferEvents = options.max_buffer_events ?? 20_000;
  const maxBufferBytes = options.max_buffer_bytes ?? 32 * 1024 * 1024;
  const maxBlockMs = options.max_block_ms ?? 5000;
  const deliveryTimeoutMs = options.delivery_timeout_ms ?? 30_000;
  const maxEventBytes = options.max_event_bytes ?? 64 * 1024;
  const ackTimeoutMs = options.ack_timeout_ms ?? 30_000;
  const backoff = { initial_delay_ms: options.retry_initial_delay_ms ?? 100, max_delay_ms: options.retry_max_delay_ms ?? 5000 };
  const compression = options.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
  const withHash = options.content_hash ?? true;
  const headerBytes = codec.format === 'single-object' ? 10 : 5;
  const normalize = createEventNormalizer(options);
  for (const [k, v] of Object.entries({
    linger_ms: lingerMs,
    max_batch_events: maxBatchEvents,
    max_block_ms: maxBlockMs,
    delivery_timeout_ms: deliveryTimeoutMs,
  })) {
    if (!Number.isFinite(v) || v < 0) throw new AuditstreamError('CONFIG_INVALID', `producer option ${k} must be a non-negative number`, { field: k });
  }

  // Buffer: FIFO of pending events (queued, then in flight), with its accounting.
  let queue: Array<Pending | undefined> = [];
  let qHead = 0;
  let queuedBytes = 0;
  let bufferedEvents = 0;
  let bufferedBytes = 0;
  let inflight: Pending[] | undefined;
  // Publishes waiting for buffer space: a FIFO (array + head index, no O(n) shift) with one
  // timer for the oldest waiter's max_block_ms deadline, not one timer per waiter.
  let waiters: Array<Waiter | undefined> = [];
  let wHead = 0;
  let waiterTimer: NodeJS.Timeout | undefined;
  const flushWaiters: Array<{ target: number; resolve: () => void }> = [];
  let seq = 0;
  let sending = false;
  let lingerTimer: NodeJS.Timeout | undefined;
  let deadlineTimer: NodeJS.Timeout | undefined;
  let closed = false;
  let closingHard = false;
  const hardStop = new AbortController();
  let closePromise: Promise<CloseReport> | undefined;
  let lastError: unknown;
  let connectingNow = false;
  let publishedTotal = 0;
  let failedTotal = 0;

  const metrics = createProducerMetrics(options.metrics, {
    buffered_events: () => bufferedEvents,
    buffered_bytes: () => bufferedBytes,
  });

  // kafkajs producer, created lazily and replaced after an abandoned batch.
  let producer: KafkaProducerLike | undefined;
  let connecting: Promise<KafkaProducerLike> | undefined;

  function getProducer(): Promise<KafkaProducerLike> {
    if (connecting) return connecting;
    const p = (options.kafka.producer as (c: Parameters<Kafka['producer']>[0]) => KafkaProducerLike)({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: pinningPartitioner,
      retry: { retries: options.kafka_retries ?? 5, initialRetryTime: 100, maxRetryTime: 2000 },
    });
    producer = p;
    connecting = p.connect().then(
      () => p,
      (err: unknown) => {
        if (producer === p) {
          producer = undefined;
          connecting = undefined;
        }
        p.disconnect().catch(() => {}); // release whatever the failed attempt opened
        throw err;
      },
    );
    return connecting;
  }

  function resetProducer(why: string): void {
    const old = producer;
    producer = undefined;
    connecting = undefined;
    if (old) {
      log?.warn({ topic, reason: why }, 'recreating the Kafka producer (new producer id)');
      old.disconnect().catch(() => {});
    }
  }

  const queueSize = () => queue.length - qHead;

  function release(p: Pending): void {
    if (!p.accounted) return;
    p.accounted = false;
    bufferedEvents--;
    bufferedBytes -= p.bytes;
  }

  function settleOk(p: Pending, receipt: PublishReceipt, now: number): void {
    if (p.settled) return;
    p.settled = true;
    metrics.latency((now - p.started) / 1000);
    p.resolve(receipt);
  }

  function settleErr(p: Pending, err: AuditstreamError): void {
    if (p.settled) return;
    p.settled = true;
    failedTotal++;
    metrics.failed(err.code, 1);
    p.reject(err);
  }

  function afterSettlement(): void {
    wakeWaiters();
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
    const head = queue[qHead];
    return head ? head.seq : Number.POSITIVE_INFINITY;
  }

  // --- buffer space -----------------------------------------------------------------------

  function fits(bytes: number): boolean {
    // An event larger than the whole byte budget still gets in alone (it passed max_event_bytes).
    return bufferedEvents < maxBufferEvents && (bufferedBytes + bytes <= maxBufferBytes || bufferedEvents === 0);
  }

  function reserve(bytes: number): void {
    bufferedEvents++;
    bufferedBytes += bytes;
  }

  const waitingCount = () => waiters.length - wHead;

  function compactWaiters(): void {
    if (wHead === waiters.length) {
      waiters = [];
      wHead = 0;
    } else if (wHead > 1024 && wHead * 2 > waiters.length) {
      waiters = waiters.slice(wHead);
      wHead = 0;
    }
  }

  function wakeWaiters(): void {
    while (wHead < waiters.length) {
      const w = waiters[wHead] as Waiter;
      if (!fits(w.bytes)) break;
      waiters[wHead++] = undefined;
      reserve(w.bytes);
      w.resolve();
    }
    compactWaiters();
  }

  function bufferFullError(): AuditstreamError {
    return new AuditstreamError(
      ProducerErrorCode.BUFFER_FULL,
      `producer buffer full (${bufferedEvents} events, ${bufferedBytes} bytes; limits max_buffer_events=${maxBufferEvents}, max_buffer_bytes=${maxBufferBytes}) for max_block_ms=${maxBlockMs}`,
      { retriable: true },
    );
  }

  function armWaiterTimer(): void {
    if (waiterTimer || wHead >= waiters.length) return;
    const head = waiters[wHead] as Waiter;
    waiterTimer = setTimeout(onWaiterDeadline, Math.max(0, head.deadline - Date.now()) + 1);
  }

  function onWaiterDeadline(): void {
    waiterTimer = undefined;
    const now = Date.now();
    while (wHead < waiters.length && (waiters[wHead] as Waiter).deadline <= now) {
      const w = waiters[wHead] as Waiter;
      waiters[wHead++] = undefined;
      w.reject(bufferFullError());
    }
    compactWaiters();
    armWaiterTimer();
  }

  function waitForSpace(bytes: number): Promise<void> {
    return new Promise((resolve, reject) => {
      waiters.push({ bytes, deadline: Date.now() + maxBlockMs, resolve, reject });
      armWaiterTimer();
    });
  }

  // --- publish ---------------------------------------------------------------------------

  function prepare(input: PublishInput, started: number): Pending {
    const now = Date.now();
    const ev = normalize(input, now);
    let value: Buffer;
    try {
      value = codec.encodeSync(ev, topic);
    } catch (err) {
      if (err instanceof AuditstreamError && err.code === 'CODEC_INVALID_EVENT') {
        throw new AuditEventValidationError(err.field ?? 'event', err.message);
      }
      throw err;
    }
    if (value.length > maxEventBytes) {
      throw new AuditEventValidationError('event', `event encodes to ${value.length} bytes, more than max_event_bytes=${maxEventBytes}`, 'EVENT_TOO_LARGE');
    }
    const key = `${ev.tenant_id}:${ev.actor.id}`;
    const hash = withHash ? oneShotHash('sha256', value.subarray(headerBytes), 'hex') : undefined;
    return new Pending(ev.event_id, { key, value }, value.length + key.length, hash, started);
  }

  function enqueue(p: Pending): Promise<PublishReceipt> {
    return new Promise<PublishReceipt>((resolve, reject) => {
      const now = Date.now();
      p.seq = ++seq;
      p.enqueuedAt = now;
      p.deadline = now + deliveryTimeoutMs;
      p.accounted = true;
      p.resolve = resolve;
      p.reject = reject;
      queue.push(p);
      queuedBytes += p.bytes;
      if (!deadlineTimer) armDeadline();
      maybeSend();
    });
  }

  function rejectEarly(err: unknown): Promise<never> {
    failedTotal++;
    metrics.failed(errorType(err), 1);
    return Promise.reject(err);
  }

  function closedError(): AuditstreamError {
    return new AuditstreamError(ProducerErrorCode.CLOSED, 'producer is closed: publish() after close()');
  }

  function publish(input: PublishInput): Promise<PublishReceipt> {
    if (closed) return rejectEarly(closedError());
    const started = performance.now();
    if (!codec.isReady(topic)) {
      return codec.prepare(topic).then(
        () => publish(input),
        (err: unknown) =>
          rejectEarly(
            err instanceof AuditstreamError && err.retriable
              ? err
              : new AuditstreamError(ProducerErrorCode.SEND_FAILED, `codec not ready for topic ${topic}: ${(err as Error).message}`, { cause: err }),
          ),
      );
    }
    let pr: Pending;
    try {
      pr = prepare(input, started);
    } catch (err) {
      return rejectEarly(err);
    }
    if (waitingCount() === 0 && fits(pr.bytes)) {
      reserve(pr.bytes);
      return enqueue(pr);
    }
    return waitForSpace(pr.bytes).then(
      () => {
        if (!closed) return enqueue(pr);
        bufferedEvents--;
        bufferedBytes -= pr.bytes;
        return rejectEarly(closedError());
      },
      (err: unknown) => rejectEarly(err),
    );
  }

  async function publishMany(events: readonly PublishInput[]): Promise<PublishReceipt[]> {
    if (closed) return rejectEarly(closedError());
    if (!codec.isReady(topic)) await codec.prepare(topic);
    const started = performance.now();
    const prepared: Pending[] = [];
    for (let i = 0; i < events.length; i++) {
      try {
        prepared.push(prepare(events[i] as PublishInput, started));
      } catch (err) {
        if (err instanceof AuditstreamError) {
          const wrapped = new AuditEventValidationError(
            err.field ?? 'event',
            `events[${i}]: ${err.message}`,
            err.code === 'EVENT_TOO_LARGE' ? 'EVENT_TOO_LARGE' : 'EVENT_INVALID',
          );
          return rejectEarly(Object.assign(wrapped, { details: { index: i } }));
        }
        return rejectEarly(err);
      }
    }
    const promises: Promise<PublishReceipt>[] = [];
    for (const pr of prepared) {
      if (waitingCount() === 0 && fits(pr.bytes)) {
        reserve(pr.bytes);
        promises.push(enqueue(pr));
      } else {
        promises.push(waitForSpace(pr.bytes).then(() => (closed ? rejectEarly(closedError()) : enqueue(pr)), rejectEarly));
      }
    }
    const results = await Promise.allSettled(promises);
    const failures = results.filter((r) => r.status === 'rejected');
    if (failures.length === 0) return results.map((r) => (r as PromiseFulfilledResult<PublishReceipt>).value);
    const first = (failures[0] as PromiseRejectedResult).reason as AuditstreamError;
    throw new AuditstreamError(ProducerErrorCode.SEND_FAILED, `${failures.length} of ${events.length} events were not delivered: ${first.message}`, {
      retriable: failures.every((f) => isRetriable((f as PromiseRejectedResult).reason)),
      cause: first,
      details: { results: results.map((r) => (r.status === 'fulfilled' ? { receipt: r.value } : { error: r.reason })) },
    });
  }

  // --- batching and sending -------------------------------------------------------------

  function maybeSend(): void {
    if (sending || queueSize() === 0) return;
    const full = queueSize() >= maxBatchEvents || queuedBytes >= maxBatchBytes;
    if (full || flushWaiters.length > 0 || closed) {
      startBatch();
      return;
    }
    if (lingerTimer) return;
    const head = queue[qHead] as Pending;
    const wait = lingerMs - (Date.now() - head.enqueuedAt);
    if (wait <= 0) {
      startBatch();
      return;
    }
    lingerTimer = setTimeout(() => {
      lingerTimer = undefined;
      if (!sending && queueSize() > 0) startBatch();
    }, wait);
  }

  function takeBatch(): Pending[] {
    const batch: Pending[] = [];
    let bytes = 0;
    while (qHead < queue.length && batch.length < maxBatchEvents) {
      const p = queue[qHead] as Pending;
      if (batch.length > 0 && bytes + p.bytes > maxBatchBytes) break;
      queue[qHead++] = undefined;
      bytes += p.bytes;
      queuedBytes -= p.bytes;
      batch.push(p);
    }
    if (qHead > 4096 && qHead * 2 > queue.length) {
      queue = queue.slice(qHead);
      qHead = 0;
    }
    return batch;
  }

  function startBatch(): void {
    if (lingerTimer) {
      clearTimeout(lingerTimer);
      lingerTimer = undefined;
    }
    sending = true;
    const batch = takeBatch();
    inflight = batch;
    sendWithRetry(batch)
      .catch((err: unknown) => {
        // Never expected: sendWithRetry settles every event itself. Fail loudly, not silently.
        log?.error({ topic, err: (err as Error).message }, 'producer send loop failed');
        for (const p of batch) settleErr(p, new AuditstreamError(ProducerErrorCode.SEND_FAILED, 'producer send loop failed', { cause: err }));
      })
      .finally(() => {
        for (const p of batch) release(p);
        inflight = undefined;
        sending = false;
        afterSettlement();
        if (!deadlineTimer) armDeadline();
        maybeSend();
      });
  }

  async function sendWithRetry(batch: Pending[]): Promise<void> {
    const messages = batch.map((p) => p.message);
    metrics.batch();
    let attempted = false;
    for (let attempt = 0; ; attempt++) {
      if (batch.every((p) => p.settled)) {
        // Every event timed out: give the batch up. If an attempt may have reached the
        // broker, its sequence numbers are in doubt: start over with a new producer id.
        if (attempted) resetProducer('batch abandoned after delivery timeout');
        return;
      }
      if (closingHard) {
        for (const p of batch) settleErr(p, closeError(p));
        return;
      }
      let md: RecordMetadata[];
      try {
        connectingNow = true;
        const kp = await getProducer();
        connectingNow = false;
        if (!attempted) {
          attempted = true;
          for (const p of batch) p.sent = true;
        }
        md = await kp.sendBatch({ topicMessages: [{ topic, messages }], acks: -1, timeout: ackTimeoutMs, compression });
      } catch (err) {
        connectingNow = false;
        lastError = err;
        const kind = classify(err);
        if (kind === 'fatal' || closingHard) {
          const e = new AuditstreamError(ProducerErrorCode.SEND_FAILED, `Kafka refused the batch for topic ${topic}: ${kafkaReason(err)}`, {
            retriable: false,
            cause: err,
          });
          for (const p of batch) settleErr(p, closingHard ? closeError(p) : e);
          return;
        }
        if (kind === 'reset') resetProducer(kafkaReason(err));
        metrics.retry();
        const delay = backoffDelay(attempt, backoff);
        log?.warn({ topic, attempt: attempt + 1, delay_ms: delay, events: batch.length, reason: kafkaReason(err) }, 'send failed; retrying');
        await sleep(delay, hardStop.signal);
        continue;
      }
      lastError = undefined;
      complete(batch, messages, md);
      return;
    }
  }

  function complete(batch: Pending[], messages: Message[], md: RecordMetadata[]): void {
    // One record batch per partition per produce request: the message at position i of a
    // partition's list has offset baseOffset + i (kafkajs keeps our order within a partition).
    const base = new Map<number, number>();
    for (const r of md) if (r.topicName === topic && r.errorCode === 0) base.set(r.partition, Number(r.baseOffset));
    const next = new Map<number, number>();
    const now = performance.now();
    let ok = 0;
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i] as Pending;
      const partition = (messages[i] as Message).partition;
      const b = partition === undefined ? undefined : base.get(partition);
      if (partition === undefined || b === undefined) {
        settleErr(
          p,
          new AuditstreamError(ProducerErrorCode.SEND_FAILED, `Kafka acknowledged the batch without an offset for partition ${partition} of ${topic}`),
        );
        continue;
      }
      const k = next.get(partition) ?? 0;
      next.set(partition, k + 1);
      if (p.settled) continue; // timed out while in flight; it did land after all
      ok++;
      const receipt: PublishReceipt = { event_id: p.eventId, topic, partition, offset: String(b + k) };
      if (p.hash !== undefined) receipt.content_hash = p.hash;
      release(p);
      settleOk(p, receipt, now);
    }
    publishedTotal += ok;
    metrics.published(ok);
  }

  // --- delivery timeout -----------------------------------------------------------------

  function earliestDeadline(): number | undefined {
    if (inflight) for (const p of inflight) if (!p.settled) return p.deadline;
    return queue[qHead]?.deadline;
  }

  function armDeadline(): void {
    const d = earliestDeadline();
    if (d === undefined) return;
    deadlineTimer = setTimeout(onDeadline, Math.max(0, d - Date.now()) + 1);
  }

  function timeoutError(sent: boolean): AuditstreamError {
    const last = lastError ? `; last error: ${kafkaReason(lastError)}` : connectingNow ? '; still connecting to the Kafka brokers' : '';
    return new AuditstreamError(
      ProducerErrorCode.DELIVERY_TIMEOUT,
      `event not acknowledged by Kafka within delivery_timeout_ms=${deliveryTimeoutMs} (${sent ? 'sent, it may still have been written' : 'never sent'})${last}`,
      { retriable: true, cause: lastError, details: { maybe_delivered: sent } },
    );
  }

  function onDeadline(): void {
    deadlineTimer = undefined;
    const now = Date.now();
    let any = false;
    if (inflight) {
      for (const p of inflight) {
        if (!p.settled && p.deadline <= now) {
          settleErr(p, timeoutError(p.sent));
          any = true;
        }
      }
    }
    while (qHead < queue.length && (queue[qHead] as Pending).deadline <= now) {
      const p = queue[qHead] as Pending;
      queue[qHead++] = undefined;
      queuedBytes -= p.bytes;
      settleErr(p, timeoutError(false));
      release(p);
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

  function closeError(p: Pending): AuditstreamError {
    return new AuditstreamError(
      ProducerErrorCode.CLOSED,
      `producer closed before Kafka acknowledged the event${p.sent ? ' (it was sent and may still have been written)' : ' (never sent)'}`,
      { details: { maybe_delivered: p.sent } },
    );
  }

  async function close(opts: { timeout_ms?: number } = {}): Promise<CloseReport> {
    if (closePromise) return closePromise;
    closed = true;
    while (wHead < waiters.length) {
      const w = waiters[wHead] as Waiter;
      waiters[wHead++] = undefined;
      w.reject(closedError());
    }
    compactWaiters();
    if (waiterTimer) clearTimeout(waiterTimer);
    waiterTimer = undefined;
    closePromise = (async () => {
      const timeoutMs = opts.timeout_ms ?? options.close_timeout_ms ?? 10_000;
      const timer = new AbortController();
      await Promise.race([flush(), sleep(timeoutMs, timer.signal)]);
      timer.abort();
      const undelivered: string[] = [];
      closingHard = true;
      hardStop.abort();
      for (const p of inflight ?? []) {
        if (!p.settled) {
          undelivered.push(p.eventId);
          settleErr(p, closeError(p));
        }
      }
      while (qHead < queue.length) {
        const p = queue[qHead] as Pending;
        queue[qHead++] = undefined;
        queuedBytes -= p.bytes;
        undelivered.push(p.eventId);
        settleErr(p, closeError(p));
        release(p);
      }
      afterSettlement();
      if (lingerTimer) clearTimeout(lingerTimer);
      if (deadlineTimer) clearTimeout(deadlineTimer);
      lingerTimer = deadlineTimer = undefined;
      metrics.detach();
      const kp = producer;
      producer = undefined;
      connecting = undefined;
      if (kp) {
        const t = new AbortController();
        await Promise.race([kp.disconnect().catch(() => {}), sleep(5000, t.signal)]);
        t.abort();
      }
      if (undelivered.length > 0) log?.warn({ topic, undelivered: undelivered.length }, 'producer closed with undelivered events');
      return { undelivered: undelivered.length, undelivered_event_ids: undelivered };
    })();
    return closePromise;
  }

  return {
    publish,
    publishMany,
    flush,
    close,
    async connect() {
      await getProducer();
    },
    stats: () => ({
      buffered_events: bufferedEvents,
      buffered_bytes: bufferedBytes,
      in_flight_events: inflight?.length ?? 0,
      published_total: publishedTotal,
      failed_total: failedTotal,
    }),
  };
}
