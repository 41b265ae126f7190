import { hash as oneShotHash } from 'node:crypto';
import { type AuditCodec, createCodec, type EncodedSlice } from '@auditstream/codec';
import { AuditstreamError, backoffDelay, errorType, isRetriable, sleep } from '@auditstream/core';
import { CompressionTypes, type Kafka, type Message, type Producer, type RecordMetadata } from 'kafkajs';
import type { Registry } from 'prom-client';
import { AuditEventValidationError, ProducerErrorCode } from './errors.js';
import { createProducerMetrics } from './metrics.js';
import { pinningPartitioner } from './partitioner.js';
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
  /** Default: createCodec() (single-object encoding), or a registry-backed codec when registry_url is set. */
  codec?: AuditCodec;
  /**
   * Confluent-compatible schema registry (Apicurio: .../apis/ccompat/v7): events are written
   * with Confluent framing under subject `<topic>-value`. Unset: Avro single-object encoding.
   */
  registry_url?: string | undefined;
  /** Timeout of one registry request. Default 5000. */
  registry_timeout_ms?: number;
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

/** The kafkajs message of an event: key, value, and the partition the pinning partitioner writes back. */
interface OutMessage {
  key: string;
  value: Buffer;
  /** Declared up front (undefined until the partitioner pins it) so pinning never reshapes the object. */
  partition: number | undefined;
}

/**
 * One event from publish() to its outcome. Kept small: thousands are alive while Kafka is
 * busy, and every byte of them is copied by the young-generation GC (once when they survive a
 * scavenge, once when promoted). Hence one time field (double fields are boxed: 16 bytes each)
 * from which the others are derived, and the encoded bytes as a slab offset rather than a
 * Buffer view: the kafkajs message and its view (~150 bytes) are made when the event's batch
 * is sent, so they live one produce request, not the whole wait in the buffer.
 */
class Pending {
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
class Group {
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

/** The defaults of the tuning options (the config section `producer` documents the same values). */
export const PRODUCER_DEFAULTS = Object.freeze({
  linger_ms: 5,
  max_batch_events: 1000,
  max_batch_bytes: 512 * 1024,
  max_buffer_events: 20_000,
  max_buffer_bytes: 32 * 1024 * 1024,
  max_block_ms: 5000,
  delivery_timeout_ms: 30_000,
  max_event_bytes: 64 * 1024,
  max_future_skew_ms: 5 * 60_000,
  max_past_age_ms: 7 * 24 * 3_600_000,
  ack_timeout_ms: 30_000,
  kafka_retries: 5,
  retry_initial_delay_ms: 100,
  retry_max_delay_ms: 5000,
  compression: 'none' as 'none' | 'gzip',
  content_hash: true,
  close_timeout_ms: 10_000,
  registry_timeout_ms: 5000,
});

export function createAuditProducer(options: AuditProducerOptions): AuditProducer {
  const topic = options.topic;
  if (!topic) throw new AuditstreamError('CONFIG_INVALID', 'producer topic is required', { field: 'topic' });
  if (options.codec && options.registry_url) {
    throw new AuditstreamError('CONFIG_INVALID', 'producer options codec and registry_url are exclusive: build the codec with registryUrl instead', {
      field: 'registry_url',
    });
  }
  const codec =
    options.codec ??
    createCodec(
      options.registry_url
        ? { registryUrl: options.registry_url, ...(options.registry_timeout_ms === undefined ? {} : { registryTimeoutMs: options.registry_timeout_ms }) }
        : {},
    );
  const log = options.logger;
  const D = PRODUCER_DEFAULTS;
  const lingerMs = options.linger_ms ?? D.linger_ms;
  const maxBatchEvents = options.max_batch_events ?? D.max_batch_events;
  const maxBatchBytes = options.max_batch_bytes ?? D.max_batch_bytes;
  const maxBufferEvents = options.max_buffer_events ?? D.max_buffer_events;
  const maxBufferBytes = options.max_buffer_bytes ?? D.max_buffer_bytes;
  const maxBlockMs = options.max_block_ms ?? D.max_block_ms;
  const deliveryTimeoutMs = options.delivery_timeout_ms ?? D.delivery_timeout_ms;
  const maxEventBytes = options.max_event_bytes ?? D.max_event_bytes;
  const ackTimeoutMs = options.ack_timeout_ms ?? D.ack_timeout_ms;
  const backoff = {
    initial_delay_ms: options.retry_initial_delay_ms ?? D.retry_initial_delay_ms,
    max_delay_ms: options.retry_max_delay_ms ?? D.retry_max_delay_ms,
  };
  const compression = options.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
  const withHash = options.content_hash ?? D.content_hash;
  const headerBytes = codec.format === 'single-object' ? 10 : 5;
  const normalize = createEventNormalizer(options);
  /** Where the codec wrote the event being prepared (reused: prepare() copies what it needs). */
  const slice: EncodedSlice = { buf: Buffer.alloc(0), start: 0, end: 0 };
  const keyScratch = Buffer.allocUnsafe(256);

  /**
   * The message key `${tenant_id}:${actor_id}` as one flat string. A template literal makes a
   * rope (two or three string objects) that murmur2 and kafkajs flatten again later; ASCII keys
   * are copied into a scratch buffer and read out in one piece instead (~0.1 µs and ~50 bytes
   * of live heap less per event). Anything else takes the template literal.
   */
  function messageKey(tenant: string, actor: string): string {
    const n = tenant.length + 1 + actor.length;
    if (n > keyScratch.length) return `${tenant}:${actor}`;
    let j = 0;
    for (let i = 0; i < tenant.length; i++) {
      const c = tenant.charCodeAt(i);
      if (c > 0x7f) return `${tenant}:${actor}`;
      keyScratch[j++] = c;
    }
    keyScratch[j++] = 0x3a; // ':'
    for (let i = 0; i < actor.length; i++) {
      const c = actor.charCodeAt(i);
      if (c > 0x7f) return `${tenant}:${actor}`;
      keyScratch[j++] = c;
    }
    return keyScratch.toString('latin1', 0, n);
  }
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
  /** When the produce request now awaited was handed to kafkajs (0: none is). */
  let sendingSince = 0;
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
      retry: { retries: options.kafka_retries ?? D.kafka_retries, initialRetryTime: 100, maxRetryTime: 2000 },
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
    metrics.latency((now - (p.deadline - deliveryTimeoutMs)) / 1000);
    if (p.group) settleInGroup(p.group, p.index, receipt, false);
    else p.resolve(receipt);
  }

  function settleErr(p: Pending, err: AuditstreamError): void {
    if (p.settled) return;
    p.settled = true;
    failedTotal++;
    metrics.failed(err.code, 1);
    if (p.group) settleInGroup(p.group, p.index, err, true);
    else p.reject(err);
  }

  /** A grouped event that never reached the queue (no buffer space, or closed meanwhile). */
  function failBeforeQueue(p: Pending, err: unknown): void {
    p.settled = true;
    failedTotal++;
    metrics.failed(errorType(err), 1);
    settleInGroup(p.group as Group, p.index, err as AuditstreamError, true);
  }

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
    waiterTimer = setTimeout(onWaiterDeadline, Math.max(0, head.deadline - performance.now()) + 1);
  }

  function onWaiterDeadline(): void {
    waiterTimer = undefined;
    const now = performance.now();
    while (wHead < waiters.length && (waiters[wHead] as Waiter).deadline <= now) {
      const w = waiters[wHead] as Waiter;
      waiters[wHead++] = undefined;
      w.reject(bufferFullError());
    }
    compactWaiters();
    armWaiterTimer();
  }

  /** Waits up to max_block_ms, and never past the event's own delivery deadline. */
  function waitForSpace(bytes: number, deliveryDeadline: number): Promise<void> {
    return new Promise((resolve, reject) => {
      waiters.push({ bytes, deadline: Math.min(performance.now() + maxBlockMs, deliveryDeadline), resolve, reject });
      armWaiterTimer();
    });
  }

  // --- publish ---------------------------------------------------------------------------

  /**
   * Validates and encodes. `now`: the publish() call's wall clock (occurred_at and event_id
   * default); `started`: its performance.now() (deadline, latency).
   */
  function prepare(input: PublishInput, now: number, started: number): Pending {
    const ev = normalize(input, now);
    const out = slice;
    try {
      if (codec.encodeSliceSync) codec.encodeSliceSync(ev, topic, out);
      else {
        const b = codec.encodeSync(ev, topic); // a codec of another make: its view is the slab
        out.buf = b;
        out.start = 0;
        out.end = b.length;
      }
    } catch (err) {
      if (err instanceof AuditstreamError && err.code === 'CODEC_INVALID_EVENT') {
        throw new AuditEventValidationError(err.field ?? 'event', err.message);
      }
      throw err;
    }
    const length = out.end - out.start;
    if (length > maxEventBytes) {
      throw new AuditEventValidationError('event', `event encodes to ${length} bytes, more than max_event_bytes=${maxEventBytes}`, 'EVENT_TOO_LARGE');
    }
    const key = messageKey(ev.tenant_id, ev.actor.id);
    // The content hash is computed when Kafka acknowledges the event (complete()), from these
    // same immutable bytes: nothing more is held while the event waits.
    // delivery_timeout_ms counts from the publish() call: time spent blocked for buffer space included.
    return new Pending(ev.event_id, key, out.buf, out.start, length + key.length, started + deliveryTimeoutMs);
  }

  function enqueue(p: Pending): void {
    p.seq = ++seq;
    p.accounted = true;
    queue.push(p);
    queuedBytes += p.bytes;
    if (!deadlineTimer) armDeadline();
    maybeSend();
  }

  /** Enqueues a single publish() and returns its promise. */
  // One executor for every publish() promise (an arrow per call would allocate a closure and
  // its context per event): track() hands it the event through `tracking`.
  let tracking: Pending | undefined;
  function trackExecutor(resolve: (r: PublishReceipt) => void, reject: (e: unknown) => void): void {
    const p = tracking as Pending;
    tracking = undefined;
    p.resolve = resolve;
    p.reject = reject;
    enqueue(p);
  }

  function track(p: Pending): Promise<PublishReceipt> {
    tracking = p;
    return new Promise<PublishReceipt>(trackExecutor);
  }

  function unreserve(bytes: number): void {
    bufferedEvents--;
    bufferedBytes -= bytes;
    wakeWaiters();
  }

  /** Rejects before anything was queued; `events` is how many events the call carried. */
  function rejectEarly(err: unknown, events = 1): Promise<never> {
    failedTotal += events;
    metrics.failed(errorType(err), events);
    return Promise.reject(err);
  }

  function closedError(): AuditstreamError {
    return new AuditstreamError(ProducerErrorCode.CLOSED, 'producer is closed: publish() after close()');
  }

  /** A codec that could not get ready (registry): retriable errors as they are, others as SEND_FAILED. */
  function codecError(err: unknown): unknown {
    return err instanceof AuditstreamError && err.retriable
      ? err
      : new AuditstreamError(ProducerErrorCode.SEND_FAILED, `codec not ready for topic ${topic}: ${(err as Error).message}`, { cause: err });
  }

  /**
   * Resolves when the codec can encode for the topic (Confluent framing: the schema id is
   * known), or rejects by `deadline` at the latest: a slow registry counts against the
   * events' delivery_timeout_ms like a slow broker.
   */
  function codecReady(deadline: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new AuditstreamError(
              ProducerErrorCode.DELIVERY_TIMEOUT,
              `event not sent within delivery_timeout_ms=${deliveryTimeoutMs}: the codec was still getting the schema id for topic ${topic} from the registry (never sent)`,
              { retriable: true, details: { maybe_delivered: false } },
            ),
          ),
        Math.max(0, deadline - Date.now()),
      );
      codec.prepare(topic).then(
        () => {
          clearTimeout(timer);
          resolve();
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(codecError(err));
        },
      );
    });
  }

  function publish(input: PublishInput): Promise<PublishReceipt> {
    if (closed) return rejectEarly(closedError());
    const now = Date.now();
    const started = performance.now();
    if (!codec.isReady(topic)) {
      return codecReady(now + deliveryTimeoutMs).then(
        () => (closed ? rejectEarly(closedError()) : publishNow(input, now, started)),
        (err: unknown) => rejectEarly(err),
      );
    }
    return publishNow(input, now, started);
  }

  function publishNow(input: PublishInput, now: number, started: number): Promise<PublishReceipt> {
    let pr: Pending;
    try {
      pr = prepare(input, now, started);
    } catch (err) {
      return rejectEarly(err);
    }
    if (waitingCount() === 0 && fits(pr.bytes)) {
      reserve(pr.bytes);
      return track(pr);
    }
    return waitForSpace(pr.bytes, pr.deadline).then(
      () => {
        if (!closed) return track(pr);
        unreserve(pr.bytes);
        return rejectEarly(closedError());
      },
      (err: unknown) => rejectEarly(err),
    );
  }

  async function publishMany(events: readonly PublishInput[]): Promise<PublishReceipt[]> {
    if (closed) return rejectEarly(closedError(), events.length);
    const now = Date.now();
    const started = performance.now();
    if (!codec.isReady(topic)) {
      try {
        await codecReady(now + deliveryTimeoutMs);
      } catch (err) {
        return rejectEarly(err, events.length);
      }
      if (closed) return rejectEarly(closedError(), events.length);
    }
    if (events.length === 0) return [];
    const prepared: Pending[] = new Array(events.length);
    for (let i = 0; i < events.length; i++) {
      try {
        prepared[i] = prepare(events[i] as PublishInput, now, started);
      } catch (err) {
        if (err instanceof AuditstreamError) {
          const wrapped = new AuditEventValidationError(
            err.field ?? 'event',
            `events[${i}]: ${err.message}`,
            err.code === 'EVENT_TOO_LARGE' ? 'EVENT_TOO_LARGE' : 'EVENT_INVALID',
          );
          return rejectEarly(Object.assign(wrapped, { details: { index: i } }), events.length);
        }
        return rejectEarly(err, events.length);
      }
    }
    // One promise for the whole call: each event settles its slot in the group.
    return new Promise<PublishReceipt[]>((resolve, reject) => {
      const g = new Group(prepared.length, resolve, reject);
      for (let i = 0; i < prepared.length; i++) {
        const pr = prepared[i] as Pending;
        pr.group = g;
        pr.index = i;
        if (waitingCount() === 0 && fits(pr.bytes)) {
          reserve(pr.bytes);
          enqueue(pr);
        } else {
          waitForSpace(pr.bytes, pr.deadline).then(
            () => {
              if (!closed) return enqueue(pr);
              unreserve(pr.bytes);
              failBeforeQueue(pr, closedError());
            },
            (err: unknown) => failBeforeQueue(pr, err),
          );
        }
      }
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
    // From the publish() call (blocked publishes linger less, which is what they want).
    const wait = lingerMs - (performance.now() - (head.deadline - deliveryTimeoutMs));
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
    const messages: Message[] = new Array(batch.length);
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i] as Pending;
      // Made once: a re-sent batch re-sends the same messages, with the partitions pinned on them.
      p.message ??= { key: p.key, value: p.slab.subarray(p.start, p.start + p.bytes - p.key.length), partition: undefined };
      messages[i] = p.message;
    }
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
        sendingSince = Date.now();
        md = await kp.sendBatch({ topicMessages: [{ topic, messages }], acks: -1, timeout: ackTimeoutMs, compression });
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
      complete(batch, md);
      return;
    }
  }

  function complete(batch: Pending[], md: RecordMetadata[]): void {
    // One record batch per partition per produce request: the message at position i of a
    // partition's list has offset baseOffset + i (kafkajs keeps our order within a partition).
    const base = new Map<number, number>();
    for (const r of md) if (r.topicName === topic && r.errorCode === 0) base.set(r.partition, Number(r.baseOffset));
    const now = performance.now();
    let ok = 0;
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i] as Pending;
      const partition = p.message?.partition;
      const b = partition === undefined ? undefined : base.get(partition);
      if (partition === undefined || b === undefined) {
        settleErr(
          p,
          new AuditstreamError(ProducerErrorCode.SEND_FAILED, `Kafka acknowledged the batch without an offset for partition ${partition} of ${topic}`),
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
      const timeoutMs = opts.timeout_ms ?? options.close_timeout_ms ?? D.close_timeout_ms;
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
        // The send may never return (a hung broker): the producer is done with these now.
        release(p);
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
