// createAuditProducer: the SDK's facade. It validates and encodes each event (prepare), reserves
// buffer space or waits for it (buffer.ts), and hands the event to the sender (sender.ts), which
// batches, sends, retries and settles it. Options and defaults: options.ts, defaults.ts.
import { type AuditCodec, createCodec, type EncodedSlice } from '@auditstream/codec';
import { AuditstreamError, uuidv7, withTimeout } from '@auditstream/core';
import { ProducerBuffer } from './buffer.js';
import { createProducerConnection } from './connection.js';
import { PRODUCER_DEFAULTS } from './defaults.js';
import { AuditEventValidationError, ProducerErrorCode } from './errors.js';
import { createProducerMetrics } from './metrics.js';
import type { AuditProducer, AuditProducerOptions, CloseReport, PublishReceipt } from './options.js';
import { resolveOptions } from './options.js';
import { messageKey } from './partitioner.js';
import { createSettler, Group, Pending } from './pending.js';
import { createSender } from './sender.js';
import { createEventNormalizer, type PublishInput } from './validate.js';

export { PRODUCER_DEFAULTS } from './defaults.js';
export type {
  AuditProducer,
  AuditProducerOptions,
  CloseReport,
  KafkaProducerLike,
  ProducerDefaults,
  ProducerStats,
  PublishReceipt,
} from './options.js';

function closedError(): AuditstreamError {
  return new AuditstreamError(ProducerErrorCode.CLOSED, 'producer is closed: publish() after close()');
}

function createDefaultCodec(options: AuditProducerOptions): AuditCodec {
  return createCodec(
    options.registry_url
      ? { registryUrl: options.registry_url, ...(options.registry_timeout_ms === undefined ? {} : { registryTimeoutMs: options.registry_timeout_ms }) }
      : {},
  );
}

export function createAuditProducer(options: AuditProducerOptions): AuditProducer {
  const opts = resolveOptions(options, PRODUCER_DEFAULTS);
  const { topic, deliveryTimeoutMs, maxEventBytes } = opts;
  const codec = options.codec ?? createDefaultCodec(options);
  const log = options.logger;
  const normalize = createEventNormalizer({
    max_future_skew_ms: options.max_future_skew_ms ?? PRODUCER_DEFAULTS.max_future_skew_ms,
    max_past_age_ms: options.max_past_age_ms ?? PRODUCER_DEFAULTS.max_past_age_ms,
  });
  /** Where the codec wrote the event being prepared (reused: prepare() copies what it needs). */
  const slice: EncodedSlice = { buf: Buffer.alloc(0), start: 0, end: 0 };
  const buffer = new ProducerBuffer(opts);
  const metrics = createProducerMetrics(options.metrics, {
    buffered_events: () => buffer.bufferedEvents,
    buffered_bytes: () => buffer.bufferedBytes,
  });
  const settle = createSettler(metrics, deliveryTimeoutMs);
  const connection = createProducerConnection(options.kafka, opts.kafkaRetries, topic, log);
  const sender = createSender({ opts, buffer, settle, metrics, connection, log, headerBytes: codec.format === 'single-object' ? 10 : 5 });
  let closed = false;
  let closePromise: Promise<CloseReport> | undefined;
  // Loss detection (docs/producers.md): one id per instance, so a restart is a new stream, not a gap.
  const producerId = uuidv7();
  let nextSeq = 0;

  /**
   * Validates and encodes. `now`: the publish() call's wall clock (occurred_at and event_id
   * default); `started`: its performance.now() (deadline, latency).
   */
  function prepare(input: PublishInput, now: number, started: number): Pending {
    const ev = normalize(input, now);
    // Events that carry their own numbering (relayed by the HTTP collector) keep it. The number
    // is taken only once the event is accepted below: a refused event leaves no gap.
    const stamp = ev.producer_id === null;
    if (stamp) {
      ev.producer_id = producerId;
      ev.producer_seq = nextSeq;
    }
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
    if (stamp) nextSeq++;
    const key = messageKey(ev.tenant_id, ev.actor.id);
    // The content hash is computed when Kafka acknowledges the event (sender's complete()), from
    // these same immutable bytes: nothing more is held while the event waits.
    // delivery_timeout_ms counts from the publish() call: time spent blocked for buffer space included.
    return new Pending(ev.event_id, key, out.buf, out.start, length + key.length, started + deliveryTimeoutMs);
  }

  // One executor for every publish() promise (an arrow per call would allocate a closure and
  // its context per event): track() hands it the event through `tracking`.
  let tracking: Pending | undefined;
  function trackExecutor(resolve: (r: PublishReceipt) => void, reject: (e: unknown) => void): void {
    const p = tracking as Pending;
    tracking = undefined;
    p.resolve = resolve;
    p.reject = reject;
    sender.enqueue(p);
  }

  /** Enqueues a single publish() and returns its promise. */
  function track(p: Pending): Promise<PublishReceipt> {
    tracking = p;
    return new Promise<PublishReceipt>(trackExecutor);
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
    if (closed) return settle.rejectEarly(closedError());
    const now = Date.now();
    const started = performance.now();
    if (!codec.isReady(topic)) {
      return codecReady(now + deliveryTimeoutMs).then(
        () => (closed ? settle.rejectEarly(closedError()) : publishNow(input, now, started)),
        (err: unknown) => settle.rejectEarly(err),
      );
    }
    return publishNow(input, now, started);
  }

  function publishNow(input: PublishInput, now: number, started: number): Promise<PublishReceipt> {
    let pr: Pending;
    try {
      pr = prepare(input, now, started);
    } catch (err) {
      return settle.rejectEarly(err);
    }
    if (buffer.waiting === 0 && buffer.fits(pr.bytes)) {
      buffer.reserve(pr.bytes);
      return track(pr);
    }
    return buffer.waitForSpace(pr.bytes, pr.deadline).then(
      () => {
        if (!closed) return track(pr);
        buffer.unreserve(pr.bytes);
        return settle.rejectEarly(closedError());
      },
      (err: unknown) => settle.rejectEarly(err),
    );
  }

  async function publishMany(events: readonly PublishInput[]): Promise<PublishReceipt[]> {
    if (closed) return settle.rejectEarly(closedError(), events.length);
    const now = Date.now();
    const started = performance.now();
    if (!codec.isReady(topic)) {
      try {
        await codecReady(now + deliveryTimeoutMs);
      } catch (err) {
        return settle.rejectEarly(err, events.length);
      }
      if (closed) return settle.rejectEarly(closedError(), events.length);
    }
    if (events.length === 0) return [];
    const prepared: Pending[] = new Array(events.length);
    const firstSeq = nextSeq;
    for (let i = 0; i < events.length; i++) {
      try {
        prepared[i] = prepare(events[i] as PublishInput, now, started);
      } catch (err) {
        nextSeq = firstSeq; // all or nothing: the numbers of the events refused with it are reused

        if (err instanceof AuditstreamError) {
          const wrapped = new AuditEventValidationError(
            err.field ?? 'event',
            `events[${i}]: ${err.message}`,
            err.code === 'EVENT_TOO_LARGE' ? 'EVENT_TOO_LARGE' : 'EVENT_INVALID',
          );
          return settle.rejectEarly(Object.assign(wrapped, { details: { index: i } }), events.length);
        }
        return settle.rejectEarly(err, events.length);
      }
    }
    // One promise for the whole call: each event settles its slot in the group.
    return new Promise<PublishReceipt[]>((resolve, reject) => {
      const g = new Group(prepared.length, resolve, reject);
      for (let i = 0; i < prepared.length; i++) {
        const pr = prepared[i] as Pending;
        pr.group = g;
        pr.index = i;
        if (buffer.waiting === 0 && buffer.fits(pr.bytes)) {
          buffer.reserve(pr.bytes);
          sender.enqueue(pr);
        } else {
          buffer.waitForSpace(pr.bytes, pr.deadline).then(
            () => {
              if (!closed) return sender.enqueue(pr);
              buffer.unreserve(pr.bytes);
              settle.failBeforeQueue(pr, closedError());
            },
            (err: unknown) => settle.failBeforeQueue(pr, err),
          );
        }
      }
    });
  }

  async function close(closeOpts: { timeout_ms?: number } = {}): Promise<CloseReport> {
    if (closePromise) return closePromise;
    closed = true;
    sender.closing();
    buffer.rejectWaiters(closedError);
    closePromise = (async () => {
      const timeoutMs = closeOpts.timeout_ms ?? opts.closeTimeoutMs;
      // What is not flushed by then is abandoned (reported as undelivered), never waited for.
      await withTimeout(sender.flush(), timeoutMs, () => undefined);
      const undelivered = sender.abandon();
      metrics.detach();
      const kp = connection.detach();
      if (kp) {
        await withTimeout(
          kp.disconnect().catch(() => {}),
          5000,
          () => undefined,
        );
      }
      if (undelivered.length > 0) log?.warn({ topic, undelivered: undelivered.length }, 'producer closed with undelivered events');
      return { undelivered: undelivered.length, undelivered_event_ids: undelivered };
    })();
    return closePromise;
  }

  return {
    publish,
    publishMany,
    flush: () => sender.flush(),
    close,
    async connect() {
      await connection.get();
    },
    producer_id: producerId,
    stats: () => ({
      buffered_events: buffer.bufferedEvents,
      buffered_bytes: buffer.bufferedBytes,
      in_flight_events: sender.inFlight(),
      published_total: settle.totals.published,
      failed_total: settle.totals.failed,
    }),
  };
}
