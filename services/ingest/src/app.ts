import type { EventRow } from '@auditstream/clickhouse';
import { fetchWaitMs } from '@auditstream/config';
import { AuditstreamError, retry, withTimeout } from '@auditstream/core';
import { kafkaCheckpointPublisher } from '@auditstream/integrity';
import { committedOffsets, createKafkaClient, defaultTopicSpecs, ensureTopics, topicWatermarks } from '@auditstream/kafka';
import { type Logger, type ObservabilityServer, startObservabilityServer } from '@auditstream/observability';
import { type AuditEvent, validateAuditEvent } from '@auditstream/schemas';
import { type Admin, type Kafka, Partitioners, type Producer } from 'kafkajs';
import type { Registry } from 'prom-client';
import type { IngestServiceConfig } from './config.js';
import { createIngestIntegrity, type IngestIntegrity, type IngestIntegrityDeps } from './integrity.js';
import { createIngestMetrics, type IngestMetrics } from './metrics.js';
import type { EventDecoder } from './pipeline/decode.js';
import { createDlqPublisher } from './pipeline/dlq.js';
import { createEncryptStage, type IngestEncryptionDeps } from './pipeline/encrypt.js';
import type { GeoLookup } from './pipeline/enrich/geo.js';
import { createEnricher } from './pipeline/enrich/index.js';
import { createMemoryGuard, HELD_SHARE } from './pipeline/memory.js';
import { createPipeline, type Pipeline } from './pipeline/pipeline.js';
import { processMessage } from './pipeline/process.js';
import { createReuseTracker } from './pipeline/reuse.js';
import { createSink, type StorageWriter } from './pipeline/sink.js';
import { createSource, type Source } from './pipeline/source.js';
import { timedInsert } from './pipeline/stage-time.js';
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

/**
 * The ingest service: consumer group `ingest.group_id` on `topics.events` → decode →
 * validate → enrich → batched INSERT into ClickHouse, poison messages to `topics.dlq`,
 * offsets committed only once stored (see pipeline/pipeline.ts). Several instances share
 * the group: Kafka spreads the partitions over them.
 */
export function createIngest(deps: IngestDeps): Ingest {
  const { config, logger } = deps;
  const cfg = config.ingest;
  const log = logger.child({ component: 'ingest' });
  const metrics = createIngestMetrics(deps.registry);
  const kafka = deps.kafka ?? createKafkaClient(config.kafka, { component: 'ingest', logger: logger.child({ component: 'ingest.kafka' }) });
  const abort = new AbortController();
  const retryCfg = { initial_delay_ms: cfg.retry_initial_delay_ms, max_delay_ms: cfg.retry_max_delay_ms };
  let producer: Producer | undefined;
  let server: ObservabilityServer | undefined;
  let writer: StorageWriter<EventRow> | undefined;
  let fatalError: unknown;
  let lagTimer: NodeJS.Timeout | undefined;
  let admin: Admin | undefined;
  let stopping: Promise<StopResult> | undefined;
  let resolveDone!: (v: { error?: unknown; result: StopResult }) => void;
  const done = new Promise<{ error?: unknown; result: StopResult }>((r) => {
    resolveDone = r;
  });

  if (config.integrity.enabled && !deps.integrity)
    throw new AuditstreamError(
      'INTEGRITY_KEY_MISSING',
      'integrity.enabled is true but ingest got no signing key: set integrity.signing_key_file (or integrity.signing_key), or integrity.enabled=false',
      { field: 'integrity.signing_key_file' },
    );
  if (config.encryption?.enabled && !deps.encryption)
    throw new AuditstreamError(
      'ENCRYPTION_KEY_MISSING',
      'encryption.enabled is true but ingest got no master key: set encryption.master_key_file (or encryption.master_key), or encryption.enabled=false',
      { field: 'encryption.master_key_file' },
    );
  const integrity: IngestIntegrity | undefined =
    config.integrity.enabled && deps.integrity
      ? createIngestIntegrity({
          ...deps.integrity,
          config: config.integrity,
          publisher: {
            publish: (c) => {
              if (!producer) return Promise.reject(new AuditstreamError('INGEST_NOT_STARTED', 'the Kafka producer is not connected yet'));
              return kafkaCheckpointPublisher(producer, config.topics.checkpoints).publish(c);
            },
          },
          registry: deps.registry,
          logger: logger.child({ component: 'ingest.integrity' }),
          retry: retryCfg,
          signal: abort.signal,
        })
      : undefined;
  // Chain values are set on the rows by the chainer right before the INSERT (and re-set on a retry or bisection).
  const observeReuse = createReuseTracker({ metrics, logger: log });
  const insert = timedInsert(
    metrics,
    (rows: EventRow[]) => (writer as StorageWriter<EventRow>).insert(rows),
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
      toRow: (r) => (writer as StorageWriter<EventRow>).toRow(r),
      insert,
      afterInsert: (rows) => (writer as StorageWriter<EventRow>).afterInsert?.(rows) ?? Promise.resolve(),
      classify: (err) => (writer as StorageWriter<EventRow>).classify(err),
    },
    metrics,
    retry: retryCfg,
    signal: abort.signal,
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
        signal: abort.signal,
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
      await (producer as Producer).send({ topic, acks: -1, messages });
    },
    topic: config.topics.dlq,
    metrics,
    retry: retryCfg,
    signal: abort.signal,
    onRetry: (err) => log.warn({ err: (err as Error)?.message }, 'publishing dead letters failed; retrying'),
  });
  // A committed offset is always explained: dead letters acknowledged by Kafka, then recorded in dlq_decisions.
  const deadLetter = async (deads: Parameters<typeof publishDeadLetters>[0]) => {
    await publishDeadLetters(deads);
    await integrity?.recordDeadLetters(deads);
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
    process: (m) =>
      processMessage(
        {
          decoder: deps.decoder,
          validate: deps.validate ?? validateAuditEvent,
          enrich,
          maxMessageBytes: cfg.max_message_bytes,
          metrics,
          retry: retryCfg,
          signal: abort.signal,
        },
        m,
      ),
    write,
    deadLetter,
    metrics,
    logger: logger.child({ component: 'ingest.pipeline' }),
    signal: abort.signal,
    onFatal: (err) => fatal(err),
    memory: createMemoryGuard({ budgetBytes: cfg.memory_budget_bytes, metrics, logger: log }),
    ...(integrity ? { beforeRevoke: () => integrity.flush(), leaving: () => stopping !== undefined } : {}),
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

  async function boundedFlush(i: IngestIntegrity, ms: number): Promise<void> {
    await withTimeout(
      i.flush().catch((err) => log.warn({ err: (err as Error)?.message }, 'signing checkpoints before leaving the group failed')),
      ms,
      () => {},
    );
  }

  function fatal(err: unknown): void {
    if (fatalError !== undefined) return;
    fatalError = err;
    const e = err as AuditstreamError;
    log.fatal({ code: e?.code, err: e?.message }, `ingest stops: ${e?.message ?? String(err)}`);
    void stop('fatal error');
  }

  async function stop(reason = 'stop requested'): Promise<StopResult> {
    if (stopping) return stopping;
    stopping = (async () => {
      const stopStarted = Date.now();
      log.info({ reason }, 'stopping: no more fetches; flushing and committing what is buffered');
      const bound = setTimeout(() => {
        log.error({ timeout_ms: cfg.shutdown_timeout_ms }, 'shutdown bound reached: giving up on the flush; uncommitted messages will be redelivered');
        abort.abort();
      }, cfg.shutdown_timeout_ms);
      bound.unref();
      try {
        pipeline.flushNow();
        // Checkpoints are signed while the partitions are still ours (before the group is left): what is
        // stored now here, and by each running handler after its final commit (pipeline `leaving`).
        if (integrity) await boundedFlush(integrity, Math.min(5000, cfg.shutdown_timeout_ms / 4));
        await source.stop().catch((err) => log.warn({ err: (err as Error)?.message }, 'stopping the consumer failed'));
        integrity?.leftGroup();
        await pipeline.batcher.drain().catch(() => {});
      } finally {
        clearTimeout(bound);
      }
      const pending = pipeline.batcher.size().rows;
      // After the final flush and commit: flush what is still pending (dropped: the group was left) and stop the timer.
      if (integrity) {
        const left = Math.max(1000, cfg.shutdown_timeout_ms - (Date.now() - stopStarted));
        await withTimeout(
          integrity.stop().catch((err) => log.warn({ err: (err as Error)?.message }, 'signing the last checkpoints failed')),
          left,
          () => log.error('signing the last checkpoints did not finish in time; the next owner of the partitions signs them'),
        );
      }
      abort.abort();
      if (lagTimer) clearInterval(lagTimer);
      await admin?.disconnect().catch(() => {});
      await producer?.disconnect().catch(() => {});
      await deps.storage.close().catch(() => {});
      await server?.close().catch(() => {});
      const clean = fatalError === undefined && pending === 0 && pipeline.batcher.failed() === undefined;
      const result = { clean, reason };
      log.info({ clean, reason }, 'ingest stopped');
      resolveDone(fatalError === undefined ? { result } : { error: fatalError, result });
      return result;
    })();
    return stopping;
  }

  /**
   * Consumer lag = high watermark − committed offset, per owned partition, from the broker: it
   * keeps growing while consumption is paused (ClickHouse down), unlike a value seen at fetch time.
   */
  async function refreshLag(): Promise<void> {
    const owned = pipeline.owned();
    if (owned.length === 0) return;
    if (!admin) {
      admin = kafka.admin();
      await admin.connect();
    }
    const [marks, committed] = await Promise.all([topicWatermarks(admin, config.topics.events), committedOffsets(admin, cfg.group_id, config.topics.events)]);
    for (const [partition, m] of marks) {
      if (!owned.includes(partition)) continue;
      const base = BigInt(committed.get(partition) ?? m.low);
      const high = BigInt(m.high);
      metrics.consumerLag.set({ partition: String(partition) }, Number(high > base ? high - base : 0n));
    }
  }

  return {
    metrics,
    done,
    internals: { pipeline, source, integrity },
    metricsUrl: () => server?.url,
    stop,
    async start() {
      if (deps.observability !== false) {
        server = await startObservabilityServer({
          host: cfg.metrics_host,
          port: cfg.metrics_port,
          registry: deps.registry,
          logger: log,
          readiness: [
            { name: 'kafka', check: () => source.joined() },
            { name: 'clickhouse', check: () => deps.storage.ping() },
          ],
        });
        log.info({ url: server.url }, 'serving /metrics, /healthz and /readyz');
      }
      if (deps.ensureTopics !== false) {
        const wanted = new Set([config.topics.events, config.topics.dlq, ...(integrity ? [config.topics.checkpoints] : [])]);
        await ensureTopics(kafka, { topics: defaultTopicSpecs(config.topics).filter((t) => wanted.has(t.name)), logger: log });
      }
      try {
        writer = await retry(
          () => (stopping ? Promise.reject(new AuditstreamError('INGEST_STOPPED', 'stopped before ClickHouse answered')) : deps.storage.prepare()),
          {
            ...retryCfg,
            max_attempts: Number.POSITIVE_INFINITY,
            shouldRetry: (err) => (err as AuditstreamError).retriable === true && !abort.signal.aborted && !stopping,
            onRetry: (err, attempt) => {
              if (attempt % 10 === 0) log.warn({ err: (err as Error)?.message }, 'ClickHouse does not answer yet; waiting before consuming');
            },
            signal: abort.signal,
          },
        );
      } catch (err) {
        if (stopping) return; // stopped while waiting for ClickHouse: not a failure
        throw err;
      }
      if (stopping) return;
      producer = kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      await producer.connect();
      if (stopping) return;
      integrity?.start();
      await source.start((batch) => pipeline.handleBatch(batch));
      lagTimer = setInterval(() => {
        refreshLag().catch((err) => log.debug({ err: (err as Error)?.message }, 'refreshing consumer lag failed'));
      }, cfg.lag_refresh_ms);
      lagTimer.unref();
      log.info(
        {
          topic: config.topics.events,
          group: cfg.group_id,
          dlq: config.topics.dlq,
          integrity: integrity ? { checkpoints: config.topics.checkpoints, key_id: deps.integrity?.signingKey.keyId } : false,
          encryption: deps.encryption ? { fields: deps.encryption.fields, subject_field: deps.encryption.subjectField } : false,
        },
        'ingest started',
      );
    },
  };
}

export type { AuditEvent };
