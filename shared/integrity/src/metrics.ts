import { Counter, type Registry } from 'prom-client';

/** Ingest-side integrity metrics (the chainer and the checkpointer run inside ingest). */
export interface IntegrityMetrics {
  /** auditstream_ingest_checkpoints_signed_total: the Prometheus rule AuditstreamCheckpointSigningStopped watches it. */
  checkpointsSigned: Counter;
  checkpointFailures: Counter<'stage'>;
  redelivered: Counter<'status'>;
}

const byRegistry = new WeakMap<Registry, IntegrityMetrics>();

/** One set of metric objects per registry: the chainer and the checkpointer share it. */
export function integrityMetrics(registry: Registry): IntegrityMetrics {
  const existing = byRegistry.get(registry);
  if (existing) return existing;
  const m: IntegrityMetrics = {
    checkpointsSigned: new Counter({
      name: 'auditstream_ingest_checkpoints_signed_total',
      help: 'Integrity checkpoints signed and stored in ClickHouse (also published to the checkpoints topic unless counted as a publish failure).',
      registers: [registry],
    }),
    checkpointFailures: new Counter({
      name: 'auditstream_ingest_checkpoint_failures_total',
      help: 'Checkpoint attempts that failed, by stage: load (previous checkpoint), store (ClickHouse), publish (Kafka; retried on the next tick), tree (the Merkle tree head could not be built: the checkpoint is signed without one).',
      labelNames: ['stage'],
      registers: [registry],
    }),
    redelivered: new Counter({
      name: 'auditstream_ingest_chain_redelivered_total',
      help: 'Re-delivered messages at offsets already stored, by outcome: stored (identical row), mismatch (same event, different content: not re-inserted), conflict (a different event was stored there: chained anew).',
      labelNames: ['status'],
      registers: [registry],
    }),
  };
  byRegistry.set(registry, m);
  return m;
}
