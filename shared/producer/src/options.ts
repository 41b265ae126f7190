// The SDK's public types and its options, resolved once against PRODUCER_DEFAULTS.
import type { AuditCodec } from '@auditstream/codec';
import type { MinimalLogger } from '@auditstream/core';
import { AuditstreamError } from '@auditstream/core';
import { CompressionTypes, type Kafka, type Producer } from 'kafkajs';
import type { MetricsRegistry } from './metrics.js';
import type { PublishInput, ValidationOptions } from './validate.js';

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

/** The SDK logs through a pino-shaped logger: core's one `MinimalLogger`. */
export type { MinimalLogger } from '@auditstream/core';

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
  /** prom-client Registry for auditstream_producer_* metrics (prom-client is then needed). */
  metrics?: MetricsRegistry;
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
  /**
   * This instance's producer id (a UUIDv7, new per createAuditProducer): stamped with a
   * producer_seq (0, 1, 2, … in publish order) on every event that carries neither, so the
   * pipeline can tell a lost event from a quiet producer (docs/producers.md#loss-detection).
   */
  readonly producer_id: string;
}

export interface ProducerStats {
  buffered_events: number;
  buffered_bytes: number;
  in_flight_events: number;
  published_total: number;
  failed_total: number;
}

/** The options that have a default (every tuning option but registry_url). */
export type ProducerDefaults = Readonly<
  Required<
    Pick<
      AuditProducerOptions,
      | 'linger_ms'
      | 'max_batch_events'
      | 'max_batch_bytes'
      | 'max_buffer_events'
      | 'max_buffer_bytes'
      | 'max_block_ms'
      | 'delivery_timeout_ms'
      | 'max_event_bytes'
      | 'max_future_skew_ms'
      | 'max_past_age_ms'
      | 'ack_timeout_ms'
      | 'kafka_retries'
      | 'retry_initial_delay_ms'
      | 'retry_max_delay_ms'
      | 'compression'
      | 'content_hash'
      | 'close_timeout_ms'
      | 'registry_timeout_ms'
    >
  >
>;

/** The options the buffer and the sender run with: every default applied, numbers checked. */
export interface ResolvedOptions {
  topic: string;
  lingerMs: number;
  maxBatchEvents: number;
  maxBatchBytes: number;
  maxBufferEvents: number;
  maxBufferBytes: number;
  maxBlockMs: number;
  deliveryTimeoutMs: number;
  maxEventBytes: number;
  ackTimeoutMs: number;
  kafkaRetries: number;
  backoff: { initial_delay_ms: number; max_delay_ms: number };
  compression: CompressionTypes;
  withHash: boolean;
  closeTimeoutMs: number;
}

export function resolveOptions(options: AuditProducerOptions, D: ProducerDefaults): ResolvedOptions {
  if (!options.topic) throw new AuditstreamError('CONFIG_INVALID', 'producer topic is required', { field: 'topic' });
  if (options.codec && options.registry_url) {
    throw new AuditstreamError('CONFIG_INVALID', 'producer options codec and registry_url are exclusive: build the codec with registryUrl instead', {
      field: 'registry_url',
    });
  }
  const r: ResolvedOptions = {
    topic: options.topic,
    lingerMs: options.linger_ms ?? D.linger_ms,
    maxBatchEvents: options.max_batch_events ?? D.max_batch_events,
    maxBatchBytes: options.max_batch_bytes ?? D.max_batch_bytes,
    maxBufferEvents: options.max_buffer_events ?? D.max_buffer_events,
    maxBufferBytes: options.max_buffer_bytes ?? D.max_buffer_bytes,
    maxBlockMs: options.max_block_ms ?? D.max_block_ms,
    deliveryTimeoutMs: options.delivery_timeout_ms ?? D.delivery_timeout_ms,
    maxEventBytes: options.max_event_bytes ?? D.max_event_bytes,
    ackTimeoutMs: options.ack_timeout_ms ?? D.ack_timeout_ms,
    kafkaRetries: options.kafka_retries ?? D.kafka_retries,
    backoff: {
      initial_delay_ms: options.retry_initial_delay_ms ?? D.retry_initial_delay_ms,
      max_delay_ms: options.retry_max_delay_ms ?? D.retry_max_delay_ms,
    },
    compression: options.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None,
    withHash: options.content_hash ?? D.content_hash,
    closeTimeoutMs: options.close_timeout_ms ?? D.close_timeout_ms,
  };
  for (const [k, v] of Object.entries({
    linger_ms: r.lingerMs,
    max_batch_events: r.maxBatchEvents,
    max_block_ms: r.maxBlockMs,
    delivery_timeout_ms: r.deliveryTimeoutMs,
  })) {
    if (!Number.isFinite(v) || v < 0) throw new AuditstreamError('CONFIG_INVALID', `producer option ${k} must be a non-negative number`, { field: k });
  }
  return r;
}
