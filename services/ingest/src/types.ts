import type { AuditEvent } from '@auditstream/schemas';
import type { Enrichment } from './pipeline/enrich/index.js';

/**
 * Why a message went to the dead-letter topic. Bounded: it is a metrics label and the
 * `x-auditstream-error-class` header.
 * - not_avro: not a single-object or Confluent-framed Avro payload (or a corrupt body)
 * - unknown_schema: framed Avro whose writer schema (fingerprint or registry id) is unknown
 * - invalid: decoded, but breaks the contract's rules (the SDK's validation)
 * - oversize: larger than ingest.max_message_bytes
 * - rejected: refused by storage (row mapping or ClickHouse data/type errors)
 */
export const ERROR_CLASSES = ['not_avro', 'unknown_schema', 'invalid', 'oversize', 'rejected'] as const;
export type ErrorClass = (typeof ERROR_CLASSES)[number];

/** The Kafka message as consumed: what a dead letter must reproduce byte for byte. */
export interface SourceMessage {
  topic: string;
  partition: number;
  offset: string;
  /** Kafka message timestamp, ms since the epoch as a decimal string (kafkajs). */
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | string | (Buffer | string)[] | undefined>;
  /** key + value + header bytes: what the batch byte limit counts. */
  size: number;
}

/** Enrichment results: one column per column the enrichment steps declare (pipeline/enrich). */
export type { Enrichment };

/** A message that became a row: the (redacted, severity-raised) event plus everything stored beside it. */
export interface IngestRecord {
  event: AuditEvent;
  enrichment: Enrichment;
  source: SourceMessage;
  /** Kafka message timestamp as ms: received_at, and (deterministically) ingested_at. */
  receivedAtMs: number;
}

export interface DeadLetter {
  source: SourceMessage;
  errorClass: ErrorClass;
  /** Names the field or rule at fault; never a payload value. */
  reason: string;
}

/** What one consumed message turns into. */
export type Outcome = { kind: 'record'; record: IngestRecord } | { kind: 'dead'; dead: DeadLetter };
