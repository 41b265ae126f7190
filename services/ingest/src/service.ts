// What createIngest takes and returns (app.ts re-exports these).
import type { EventRow } from '@auditstream/clickhouse';
import type { Logger } from '@auditstream/observability';
import type { Kafka } from 'kafkajs';
import type { Registry } from 'prom-client';
import type { IngestServiceConfig } from './config.js';
import type { IngestIntegrity, IngestIntegrityDeps } from './integrity.js';
import type { IngestMetrics } from './metrics.js';
import type { EventDecoder } from './pipeline/decode.js';
import type { IngestEncryptionDeps } from './pipeline/encrypt.js';
import type { GeoLookup } from './pipeline/enrich/geo.js';
import type { Pipeline } from './pipeline/pipeline.js';
import type { StorageWriter } from './pipeline/sink.js';
import type { Source } from './pipeline/source.js';
import type { EventValidator } from './pipeline/validate.js';

/** What ingest needs from storage besides writing: readiness, and waiting until it answers at start. */
export interface IngestStorage {
  /** Resolves once storage answers (the server layout is known); throws retriable errors until then. */
  prepare(): Promise<StorageWriter<EventRow>>;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

export interface IngestDeps {
  config: Pick<IngestServiceConfig, 'ingest' | 'topics' | 'kafka' | 'integrity'> & Partial<Pick<IngestServiceConfig, 'encryption'>>;
  logger: Logger;
  registry: Registry;
  storage: IngestStorage;
  /** @auditstream/codec (single-object and Confluent framing). */
  decoder: EventDecoder;
  /** The contract's validator; default validateAuditEvent from @auditstream/schemas (unit tests pass fakes). */
  validate?: EventValidator;
  kafka?: Kafka;
  /** Offline geo database; default geoip-lite's files, read by geoFileLookup (opened only when geo enrichment is on). */
  geo?: GeoLookup;
  /** Serve /metrics /healthz /readyz on ingest.metrics_host:metrics_port (default true). */
  observability?: boolean;
  /** Create the events and DLQ topics (and the checkpoints topic with integrity) when missing (default true). */
  ensureTopics?: boolean;
  /**
   * The hash chain and signed checkpoints (docs/integrity.md): required when
   * `integrity.enabled` (main.ts reads the signing key with `integrityFromConfig`).
   */
  integrity?: IngestIntegrityDeps;
  /**
   * Field encryption (docs/field-encryption.md): required when `encryption.enabled` (main.ts
   * reads the master key with `encryptionFromConfig`).
   */
  encryption?: IngestEncryptionDeps;
}

export interface StopResult {
  /** Everything consumed was stored and committed in time. */
  clean: boolean;
  reason: string;
}

export interface Ingest {
  start(): Promise<void>;
  /** Stops fetching, flushes, commits, leaves the group; bounded by ingest.shutdown_timeout_ms. */
  stop(reason?: string): Promise<StopResult>;
  /** Settles when the service stopped, on request or on a fatal error (then `error` is set). */
  readonly done: Promise<{ error?: unknown; result: StopResult }>;
  readonly metrics: IngestMetrics;
  /** Where /metrics is served, once started (undefined when observability is off). */
  metricsUrl(): string | undefined;
  /** Internals for tests and diagnostics. */
  readonly internals: { pipeline: Pipeline; source: Source; integrity: IngestIntegrity | undefined };
}
