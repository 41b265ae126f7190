import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Every ingest metric, registered on the process registry it is given (never the global one). */
export function createIngestMetrics(registry: Registry) {
  const registers = [registry];
  return {
    received: new Counter({
      name: 'auditstream_ingest_received_events_total',
      help: 'Messages consumed from the events topic.',
      registers,
    }),
    inserted: new Counter({
      name: 'auditstream_ingest_inserted_events_total',
      help: 'Rows inserted into ClickHouse (a redelivered message counts again).',
      registers,
    }),
    deadLettered: new Counter({
      name: 'auditstream_ingest_dead_lettered_events_total',
      help: 'Messages published to the dead-letter topic, by error class.',
      labelNames: ['error_type'] as const,
      registers,
    }),
    redactedFields: new Counter({
      name: 'auditstream_ingest_redacted_fields_total',
      help: 'Fields changed by redaction, by rule (email, bearer, card, drop, mask or a custom pattern name).',
      labelNames: ['rule'] as const,
      registers,
    }),
    encryptedFields: new Counter({
      name: 'auditstream_ingest_encrypted_fields_total',
      help: 'Field values encrypted under a subject data key before storage (encryption.fields).',
      registers,
    }),
    enrichmentFailures: new Counter({
      name: 'auditstream_ingest_enrichment_failures_total',
      help: 'Enrichment lookups that failed or found nothing; the column is left empty.',
      labelNames: ['stage'] as const,
      registers,
    }),
    errors: new Counter({
      name: 'auditstream_ingest_errors_total',
      help: 'Errors by pipeline stage and error code (retried, dead-lettered or fatal).',
      labelNames: ['stage', 'error_type'] as const,
      registers,
    }),
    eventIdReuse: new Counter({
      name: 'auditstream_ingest_event_id_reuse_total',
      help: 'Stored messages reusing the event_id of another message seen by this process: kind=duplicate (same content) or conflict (different content; both kept, verify names it).',
      labelNames: ['kind'] as const,
      registers,
    }),
    stageSeconds: new Counter({
      name: 'auditstream_ingest_stage_seconds_total',
      help: 'Wall time spent in each pipeline stage: process (decode, validate, enrich, redact), row_mapping, chain (hash chain, checkpoints and id-reuse record around the INSERT), insert, after_insert (exact-count record), dlq, commit. rate() is the share of each second spent there.',
      labelNames: ['stage'] as const,
      registers,
    }),
    insertRetries: new Counter({
      name: 'auditstream_ingest_insert_retries_total',
      help: 'ClickHouse writes of a flush (the INSERT, or the exact-count record after it) retried after a transient failure; errors_total{stage} says which.',
      registers,
    }),
    batchRows: new Histogram({
      name: 'auditstream_ingest_batch_rows',
      help: 'Rows per flush (one INSERT).',
      buckets: [1, 10, 100, 500, 1000, 5000, 10_000, 25_000, 50_000, 100_000],
      registers,
    }),
    batchBytes: new Histogram({
      name: 'auditstream_ingest_batch_bytes',
      help: 'Kafka message bytes per flush.',
      buckets: [1024, 16_384, 131_072, 1_048_576, 4_194_304, 8_388_608, 16_777_216, 33_554_432],
      registers,
    }),
    insertDuration: new Histogram({
      name: 'auditstream_ingest_insert_duration_seconds',
      help: 'Duration of one flush INSERT into ClickHouse, retries included.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    endToEndDelay: new Histogram({
      name: 'auditstream_ingest_end_to_end_delay_seconds',
      help: 'Time from occurred_at to the row being inserted.',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600],
      registers,
    }),
    newestStored: new Gauge({
      name: 'auditstream_ingest_newest_stored_event_timestamp_seconds',
      help: 'occurred_at of the newest event this instance stored, by partition (Unix seconds; never goes back). With auditstream_ingest_consumer_lag it tells a stalled partition (lag and an old value) from a quiet one (no lag).',
      labelNames: ['partition'] as const,
      registers,
    }),
    consumerLag: new Gauge({
      name: 'auditstream_ingest_consumer_lag',
      help: 'Messages not yet committed (high watermark minus committed offset), by partition this instance owns.',
      labelNames: ['partition'] as const,
      registers,
    }),
    bufferEvents: new Gauge({
      name: 'auditstream_ingest_buffer_events',
      help: 'Messages held in memory, waiting for or inside a flush.',
      registers,
    }),
    bufferBytes: new Gauge({
      name: 'auditstream_ingest_buffer_bytes',
      help: 'Kafka message bytes held in memory, waiting for or inside a flush.',
      registers,
    }),
    memoryBudget: new Gauge({
      name: 'auditstream_ingest_memory_budget_bytes',
      help: 'The memory budget (ingest.memory_budget_bytes): fetching pauses at 3/4 of it.',
      registers,
    }),
    memoryHeld: new Gauge({
      name: 'auditstream_ingest_memory_held_bytes',
      help: 'Resident memory of the process when the memory budget was last checked (before each decoded chunk).',
      registers,
    }),
    fetchPaused: new Gauge({
      name: 'auditstream_ingest_fetch_paused',
      help: '1 while fetching is paused by the memory budget, else 0.',
      registers,
    }),
    fetchPauses: new Counter({
      name: 'auditstream_ingest_fetch_pauses_total',
      help: 'Times fetching paused because resident memory reached the memory budget.',
      registers,
    }),
  };
}

export type IngestMetrics = ReturnType<typeof createIngestMetrics>;
