import { z } from 'zod';
import { positiveInt } from './common.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * The audit SDK (@auditstream/producer) as used by auditstream's own processes (the API's
 * self-audit, the demo). Keys are the SDK's option names, so the parsed section spreads
 * straight into it: `createAuditProducer({ kafka, topic: cfg.topics.events, ...cfg.producer })`.
 * These defaults are the SDK's: its PRODUCER_DEFAULTS is this section parsed (shared/producer/src/defaults.ts).
 */
export const producerSection = z
  .strictObject({
    linger_ms: z
      .number()
      .int()
      .min(0)
      .default(5)
      .describe('How long a batch waits for more events before it is sent (0 sends at once; a full batch never waits).'),
    max_batch_events: positiveInt().default(1000).describe('Most events in one produce request.'),
    max_batch_bytes: positiveInt()
      .default(512 * KiB)
      .describe('Most encoded bytes in one produce request; keep it under the broker and topic max.message.bytes (1 MiB by default).'),
    max_buffer_events: positiveInt().default(20_000).describe('Most events buffered or in flight; beyond it publish() blocks up to max_block_ms.'),
    max_buffer_bytes: positiveInt()
      .default(32 * MiB)
      .describe('Most encoded bytes buffered or in flight; beyond it publish() blocks up to max_block_ms.'),
    max_block_ms: z
      .number()
      .int()
      .min(0)
      .default(5000)
      .describe('How long publish() waits for buffer space before it rejects with PRODUCER_BUFFER_FULL (0 rejects at once).'),
    delivery_timeout_ms: positiveInt()
      .default(30_000)
      .describe('Upper bound from publish() to its outcome (blocking, registry and Kafka included); then PRODUCER_DELIVERY_TIMEOUT.'),
    max_event_bytes: positiveInt()
      .default(64 * KiB)
      .describe('Largest encoded event; larger ones are rejected with EVENT_TOO_LARGE.'),
    max_future_skew_ms: z
      .number()
      .int()
      .min(0)
      .default(5 * 60_000)
      .describe('How far ahead of the producer clock occurred_at may be.'),
    max_past_age_ms: positiveInt()
      .default(7 * 24 * 3_600_000)
      .describe('How far in the past occurred_at may be.'),
    ack_timeout_ms: positiveInt().default(30_000).describe('How long the broker waits for the in-sync replicas to acknowledge a batch (acks=all).'),
    kafka_retries: z
      .number()
      .int()
      .min(1)
      .default(5)
      .describe('Retries kafkajs makes within one send attempt; the SDK keeps re-sending until delivery_timeout_ms.'),
    retry_initial_delay_ms: positiveInt().default(100).describe('First backoff between send attempts of a batch (full jitter, doubling).'),
    retry_max_delay_ms: positiveInt().default(5000).describe('Longest backoff between send attempts of a batch.'),
    compression: z.enum(['none', 'gzip']).default('none').describe('Compression of produce requests.'),
    content_hash: z.boolean().default(true).describe('Put the SHA-256 of each event\u2019s Avro body in its receipt (about 1 \u00b5s per event).'),
    close_timeout_ms: positiveInt().default(10_000).describe('How long close() flushes before it rejects what is left with PRODUCER_CLOSED.'),
    registry_url: z
      .url({ protocol: /^https?$/ })
      .optional()
      .describe(
        'Confluent-compatible schema registry (Apicurio: http://host:8080/apis/ccompat/v7); set: Confluent framing under subject `<topic>-value`, unset: Avro single-object encoding. May carry user:password (secret: prefer the environment).',
      ),
    registry_timeout_ms: positiveInt().default(5000).describe('Timeout of one schema registry request.'),
  })
  .prefault({});

export type ProducerSection = z.infer<typeof producerSection>;
