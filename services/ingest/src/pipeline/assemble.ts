import type { EventRow } from '@auditstream/clickhouse';
import { fetchWaitMs } from '@auditstream/config';
import { AuditstreamError } from '@auditstream/core';
import { kafkaCheckpointPublisher } from '@auditstream/integrity';
import type { Logger } from '@auditstream/observability';
import { validateAuditEvent } from '@auditstream/schemas';
import type { Kafka, Producer } from 'kafkajs';
import { createIngestIntegrity, type IngestIntegrity } from '../integrity.js';
import type { IngestMetrics } from '../metrics.js';
import type { Ingest, IngestDeps } from '../service.js';
import { createDlqPublisher } from './dlq.js';
import { createEncryptStage } from './encrypt.js';
import { createEnricher } from './enrich/index.js';
import { createMemoryGuard, HELD_SHARE } from './memory.js';
import { createPipeline } from './pipeline.js';
import { type ProcessDeps, processMessage } from './process.js';
import { createReuseTracker } from './reuse.js';
import { createSink, type StorageWriter } from './sink.js';
import { createSource } from './source.js';
import { timedInsert } from './stage-time.js';

/** What the pipeline is built from: the service's deps, and what createIngest owns and binds late. */
export interface AssembleDeps extends Pick<IngestDeps, 'config' | 'logger' | 'registry' | 'decoder' | 'validate' | 'geo' | 'integrity' | 'encryption'> {
  /** The `ingest` component's logger. */
  log: Logger;
  metrics: IngestMetrics;
  kafka: Kafka;
  retry: { initial_delay_ms: number; max_delay_ms: number };
  signal: AbortSignal;
  /** Connected at start: read at each send. */
  producer: () => Producer | undefined;
  /** Known once storage answered at start: read at each write. */
  writer: () => StorageWriter<EventRow> | undefined;
  /** The service is stopping. */
  leaving: () => boolean;
  fatal: (err: unknown) => void;
}

/** Builds the ingest pipeline: Kafka source → process → sink into storage, dead letters, integrity. */
export function assemblePipeline(deps: AssembleDeps): Ingest['internals'] {
  const { config, logger, log, metrics, kafka, signal, fatal } = deps;
  const cfg = config.ingest;
  const retryCfg = deps.retry;
  const integrity: IngestIntegrity | undefined =
    config.integrity.enabled && deps.integrity
      ? createIngestIntegrity({
          ...deps.integrity,
          config: config.integrity,
          publisher: {
            publish: (c) => {
              const producer = deps.producer();
              if (!producer) return Promise.reject(new AuditstreamError('INGEST_NOT_STARTED', 'the Kafka producer is not connected yet'));
              return kafkaCheckpointPublisher(producer, config.topics.checkpoints).publish(c);
            },
          },
          registry: deps.registry,
          logger: logger.child({ component: 'ingest.integrity' }),
          retry: retryCfg,
          signal,
        })
      : undefined;
  const writer = () => deps.writer() as StorageWriter<EventRow>;
  // Chain values are set on the rows by the chainer right before the INSERT (and re-set on a retry or bisection).
  const observeReuse = createReuseTracker({ metrics, logger: log });
  const insert = timedInsert(
    metrics,
    (rows: EventRow[]) => writer().insert(rows),
    (timed) => {
      const plainInsert = async (rows: EventRow[]) => {
        await timed(rows);
        observeReuse(rows);
      };
      return integrity ? integrity.wrapInsert(plainInsert) : plainInsert;
    },
  );

  const enrich = createEnricher(cfg, metrics, deps.geo ? { geo: deps.geo } : {});
  const sinkWrite = createSink({
    storage: {
      toRow: (r) => writer().toRow(r),
      insert,
      afterInsert: (rows) => writer().afterInsert?.(rows) ?? Promise.resolve(),
      classify: (err) => writer().classify(err),
    },
    metrics,
    retry: retryCfg,
    signal,
    onRetry: (err, attempt, delay, stage) => {
      const entry = { code: err.code, attempt: attempt + 1, retry_in_ms: delay };
      const what = stage === 'insert' ? 'ClickHouse INSERT' : 'Recording the stored rows (exact counts)';
      if (attempt === 0 || attempt % 10 === 9) log.warn(entry, `${what} failed transiently; retrying (consumption is paused meanwhile)`);
    },
  });
  // Encrypt after enrichment and redaction (done when each message was processed) and before the
  // sink maps and hash-chains the rows: the chain covers the ciphertext.
  const encrypt = deps.encryption
    ? createEncryptStage({
        encryption: deps.encryption,
        metrics,
        retry: retryCfg,
        signal,
        onRetry: (err, attempt) => {
          if (attempt === 0 || attempt % 10 === 9) log.warn({ code: err.code }, 'fetching subject keys failed transiently; retrying');
        },
      })
    : undefined;
  const write: typeof sinkWrite = encrypt
    ? async (records) => {
        await encrypt(records);
        return sinkWrite(records);
      }
    : sinkWrite;
  const publishDeadLetters = createDlqPublisher({
    send: async (topic, messages) => {
      await (deps.producer() as Producer).send({ topic, acks: -1, messages });
    },
    topic: config.topics.dlq,
    metrics,
    retry: retryCfg,
    signal,
    onRetry: (err) => log.warn({ err: (err as Error)?.message }, 'publishing dead letters failed; retrying'),
  });
  // A committed offset is always explained: dead letters acknowledged by Kafka, then recorded in dlq_decisions.
  const deadLetter = async (deads: Parameters<typeof publishDeadLetters>[0]) => {
    await publishDeadLetters(deads);
    await integrity?.recordDeadLetters(deads);
  };

  // Built once: processMessage runs per consumed message.
  const processDeps: ProcessDeps = {
    decoder: deps.decoder,
    validate: deps.validate ?? validateAuditEvent,
    enrich,
    maxMessageBytes: cfg.max_message_bytes,
    metrics,
    retry: retryCfg,
    signal,
  };

  // Each Kafka byte held costs ~30 bytes of heap once decoded, mapped and serialised: the budget
  // caps what one fetch and one INSERT hold at 1/64 of it, so a flush fits in the room left above PAUSE_AT.
  const heldCap = Math.floor(cfg.memory_budget_bytes / HELD_SHARE);
  const fetchMaxBytes = Math.min(cfg.fetch_max_bytes, heldCap);
  const pipeline = createPipeline({
    config: {
      batchMaxRows: cfg.batch_max_rows,
      batchMaxBytes: Math.min(cfg.batch_max_bytes, heldCap),
      batchMaxAgeMs: cfg.batch_max_age_ms,
      heartbeatIntervalMs: cfg.heartbeat_interval_ms,
      retry: retryCfg,
    },
    process: (m) => processMessage(processDeps, m),
    write,
    deadLetter,
    metrics,
    logger: logger.child({ component: 'ingest.pipeline' }),
    signal,
    onFatal: (err) => fatal(err),
    memory: createMemoryGuard({ budgetBytes: cfg.memory_budget_bytes, metrics, logger: log }),
    ...(integrity ? { beforeRevoke: () => integrity.flush(), leaving: deps.leaving } : {}),
  });

  const source = createSource(
    kafka,
    {
      topic: config.topics.events,
      groupId: cfg.group_id,
      sessionTimeoutMs: cfg.session_timeout_ms,
      heartbeatIntervalMs: cfg.heartbeat_interval_ms,
      rebalanceTimeoutMs: cfg.rebalance_timeout_ms,
      // A fetch can never hold more than fetch_max_bytes: a larger minimum would make every fetch wait the full age.
      fetchMinBytes: Math.min(cfg.fetch_min_bytes, fetchMaxBytes),
      fetchMaxBytes,
      fetchMaxPartitionBytes: Math.min(cfg.fetch_max_partition_bytes, fetchMaxBytes),
      fetchMaxWaitMs: fetchWaitMs(cfg),
      partitionsConsumedConcurrently: cfg.partitions_consumed_concurrently,
    },
    {
      onAssigned: (partitions) => {
        pipeline.onAssigned(partitions);
        integrity?.onAssigned(config.topics.events, partitions);
      },
      onCrash: (err, restart) => {
        if (restart) log.warn({ err: (err as Error)?.message }, 'the Kafka consumer crashed; kafkajs restarts it');
        else fatal(new AuditstreamError('KAFKA_CONSUMER_CRASHED', `the Kafka consumer stopped: ${(err as Error)?.message}`, { cause: err }));
      },
    },
    logger.child({ component: 'ingest.source' }),
  );

  return { pipeline, source, integrity };
}
