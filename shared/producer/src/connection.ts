// The kafkajs producer the sender drives: created lazily, replaced after an abandoned batch or a
// sequence error (new producer id), and how a send error is classified.
import { isRetriable } from '@auditstream/core';
import type { Kafka } from 'kafkajs';
import type { AuditProducerOptions, KafkaProducerLike, MinimalLogger } from './options.js';
import { pinningPartitioner } from './partitioner.js';

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

export function classify(err: unknown): 'retry' | 'reset' | 'fatal' {
  let e = err as { name?: string; type?: string; cause?: unknown; retriable?: boolean };
  if (e?.name === 'KafkaJSNumberOfRetriesExceeded' && e.cause) e = e.cause as typeof e;
  if (e?.type && RESET_TYPES.has(e.type)) return 'reset';
  if (e?.type && FATAL_TYPES.has(e.type)) return 'fatal';
  return isRetriable(e) ? 'retry' : 'fatal';
}

export function kafkaReason(err: unknown): string {
  const e = err as { name?: string; type?: string; message?: string; cause?: { type?: string; message?: string } };
  const inner = e?.name === 'KafkaJSNumberOfRetriesExceeded' && e.cause ? e.cause : e;
  return inner?.type ? `${inner.type} (${inner.message ?? ''})` : (inner?.message ?? String(err));
}

export interface ProducerConnection {
  /** The connected producer (connects on first use; one attempt shared by concurrent callers). */
  get(): Promise<KafkaProducerLike>;
  /** Drops the producer (the next get() makes a new one, with a new producer id). */
  reset(why: string): void;
  /** Drops the producer and returns it for the caller to disconnect (close). */
  detach(): KafkaProducerLike | undefined;
}

export function createProducerConnection(
  kafka: AuditProducerOptions['kafka'],
  kafkaRetries: number,
  topic: string,
  log: MinimalLogger | undefined,
): ProducerConnection {
  let producer: KafkaProducerLike | undefined;
  let connecting: Promise<KafkaProducerLike> | undefined;

  function get(): Promise<KafkaProducerLike> {
    if (connecting) return connecting;
    const p = (kafka.producer as (c: Parameters<Kafka['producer']>[0]) => KafkaProducerLike)({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: pinningPartitioner,
      retry: { retries: kafkaRetries, initialRetryTime: 100, maxRetryTime: 2000 },
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

  function reset(why: string): void {
    const old = producer;
    producer = undefined;
    connecting = undefined;
    if (old) {
      log?.warn({ topic, reason: why }, 'recreating the Kafka producer (new producer id)');
      old.disconnect().catch(() => {});
    }
  }

  function detach(): KafkaProducerLike | undefined {
    const kp = producer;
    producer = undefined;
    connecting = undefined;
    return kp;
  }

  return { get, reset, detach };
}
