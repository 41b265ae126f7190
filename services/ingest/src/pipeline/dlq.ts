import { AuditstreamError, retry } from '@auditstream/core';
import type { IngestMetrics } from '../metrics.js';
import type { DeadLetter, ErrorClass } from '../types.js';

/** Headers ingest adds to a dead letter; the value and key are the original bytes, untouched. */
export const DLQ_HEADERS = {
  errorClass: 'x-auditstream-error-class',
  errorMessage: 'x-auditstream-error-message',
  sourceTopic: 'x-auditstream-source-topic',
  sourcePartition: 'x-auditstream-source-partition',
  sourceOffset: 'x-auditstream-source-offset',
  /** The original message timestamp (ms): replay restores it. */
  sourceTimestamp: 'x-auditstream-source-timestamp',
  firstSeen: 'x-auditstream-first-seen',
} as const;

const OUR_HEADERS = new Set<string>(Object.values(DLQ_HEADERS));

export type KafkaHeaders = Record<string, Buffer | string | (Buffer | string)[] | undefined>;

export interface DlqMessage {
  key: Buffer | null;
  value: Buffer | null;
  headers: KafkaHeaders;
}

/** kafkajs producer.send, narrowed: resolves once the broker acknowledged (acks=all). */
export type DlqSend = (topic: string, messages: DlqMessage[]) => Promise<void>;

/** Keeps error messages to one short printable line (headers are read by people and tools). */
export function headerSafe(text: string, max = 300): string {
  const one = text.replace(/[\r\n\t]+/g, ' ').replace(/[^\x20-\x7e]/g, '?');
  return one.length > max ? `${one.slice(0, max - 1)}\u2026` : one;
}

/** The first-seen time a replayed message already carries, so it survives another trip through the DLQ. */
function existingFirstSeen(headers: KafkaHeaders): string | undefined {
  const v = headers[DLQ_HEADERS.firstSeen];
  const one = Array.isArray(v) ? v[0] : v;
  return one === undefined ? undefined : String(one);
}

/**
 * The dead letter as published: the original key, value and headers, plus ours (why, from
 * where, since when). Earlier x-auditstream-* headers (a replayed message) are replaced, except
 * first-seen, which is kept. The dead letter gets a fresh timestamp, so the DLQ's time-based
 * retention counts from when it was dead-lettered; the original one is in a header.
 */
export function toDlqMessage(d: DeadLetter, now: Date): DlqMessage {
  const headers: KafkaHeaders = {};
  for (const [k, v] of Object.entries(d.source.headers)) if (!OUR_HEADERS.has(k) && v !== undefined) headers[k] = v;
  headers[DLQ_HEADERS.errorClass] = d.errorClass;
  headers[DLQ_HEADERS.errorMessage] = headerSafe(d.reason);
  headers[DLQ_HEADERS.sourceTopic] = d.source.topic;
  headers[DLQ_HEADERS.sourcePartition] = String(d.source.partition);
  headers[DLQ_HEADERS.sourceOffset] = d.source.offset;
  headers[DLQ_HEADERS.sourceTimestamp] = d.source.timestamp;
  headers[DLQ_HEADERS.firstSeen] = existingFirstSeen(d.source.headers) ?? now.toISOString();
  return { key: d.source.key, value: d.source.value, headers };
}

export interface DlqPublisherDeps {
  send: DlqSend;
  topic: string;
  metrics: Pick<IngestMetrics, 'deadLettered' | 'errors'>;
  retry: { initial_delay_ms: number; max_delay_ms: number };
  signal: AbortSignal;
  now?: () => Date;
  onRetry?: (err: unknown) => void;
}

/** Most bytes of dead letters sent in one produce request (under the broker's 1 MiB default). */
export const DLQ_REQUEST_BYTES = 512 * 1024;

function messageBytes(m: DlqMessage): number {
  let n = (m.key?.length ?? 0) + (m.value?.length ?? 0);
  for (const [k, v] of Object.entries(m.headers)) {
    n += k.length;
    for (const x of Array.isArray(v) ? v : v === undefined ? [] : [v]) n += x.length;
  }
  return n;
}

/** The broker refuses the record (batch) as too large: retrying the same bytes cannot help. */
export function isTooLarge(err: unknown): boolean {
  for (let e = err as { type?: unknown; cause?: unknown; message?: unknown } | undefined, i = 0; e && i < 5; e = e.cause as typeof e, i++) {
    if (e.type === 'MESSAGE_TOO_LARGE' || e.type === 'RECORD_LIST_TOO_LARGE') return true;
    if (typeof e.message === 'string' && /message (size )?is (too large|larger than)/i.test(e.message)) return true;
  }
  return false;
}

/**
 * A dead letter the broker refuses as too large (its value exceeds the DLQ topic's
 * max.message.bytes) is published without its value: the headers still say what, why and
 * where, and the original stays at x-auditstream-source-offset of the source topic.
 */
export function withoutValue(m: DlqMessage): DlqMessage {
  return { key: m.key, value: null, headers: { ...m.headers, 'x-auditstream-value-omitted': String(m.value?.length ?? 0) } };
}

/**
 * Publishes dead letters and resolves only once the broker acknowledged all of them: only
 * then do their offsets count as done. They go in requests of at most DLQ_REQUEST_BYTES;
 * failures are retried for as long as the service runs (a dead letter is never dropped),
 * except "too large", which no retry can fix: such a dead letter goes without its value.
 * When the service stops first, the error is thrown and nothing of the batch is committed,
 * so the messages come back after a restart.
 */
export function createDlqPublisher(deps: DlqPublisherDeps): (deads: readonly DeadLetter[]) => Promise<void> {
  const now = deps.now ?? (() => new Date());

  async function sendWithRetry(messages: DlqMessage[]): Promise<void> {
    await retry(() => deps.send(deps.topic, messages), {
      ...deps.retry,
      max_attempts: Number.POSITIVE_INFINITY,
      shouldRetry: (err) => !deps.signal.aborted && !isTooLarge(err),
      onRetry: (err) => {
        deps.metrics.errors.inc({ stage: 'dlq', error_type: errorCode(err) });
        deps.onRetry?.(err);
      },
      signal: deps.signal,
    });
  }

  async function sendChunk(messages: DlqMessage[]): Promise<void> {
    try {
      await sendWithRetry(messages);
    } catch (err) {
      if (!isTooLarge(err)) throw err;
      deps.metrics.errors.inc({ stage: 'dlq', error_type: 'MESSAGE_TOO_LARGE' });
      if (messages.length > 1) for (const m of messages) await sendChunk([m]);
      else if ((messages[0] as DlqMessage).value !== null) await sendWithRetry([withoutValue(messages[0] as DlqMessage)]);
      else throw err;
    }
  }

  return async (deads) => {
    if (deads.length === 0) return;
    const at = now();
    const messages = deads.map((d) => toDlqMessage(d, at));
    let chunk: DlqMessage[] = [];
    let bytes = 0;
    for (const m of messages) {
      const b = messageBytes(m);
      if (chunk.length > 0 && bytes + b > DLQ_REQUEST_BYTES) {
        await sendChunk(chunk);
        chunk = [];
        bytes = 0;
      }
      chunk.push(m);
      bytes += b;
    }
    if (chunk.length > 0) await sendChunk(chunk);
    const byClass = new Map<ErrorClass, number>();
    for (const d of deads) byClass.set(d.errorClass, (byClass.get(d.errorClass) ?? 0) + 1);
    for (const [c, n] of byClass) deps.metrics.deadLettered.inc({ error_type: c }, n);
  };
}

function errorCode(err: unknown): string {
  if (err instanceof AuditstreamError) return err.code;
  const name = (err as { type?: unknown; name?: unknown })?.type ?? (err as { name?: unknown })?.name;
  return typeof name === 'string' && /^[A-Za-z0-9_]{1,40}$/.test(name) ? name : 'other';
}
