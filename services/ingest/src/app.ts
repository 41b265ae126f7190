import type { EventRow } from '@auditstream/clickhouse';
import { AuditstreamError, retry, withTimeout } from '@auditstream/core';
import { committedOffsets, createKafkaClient, defaultTopicSpecs, ensureTopics, topicWatermarks } from '@auditstream/kafka';
import { type ObservabilityServer, startObservabilityServer } from '@auditstream/observability';
import type { AuditEvent } from '@auditstream/schemas';
import { type Admin, Partitioners, type Producer } from 'kafkajs';
import type { IngestIntegrity } from './integrity.js';
import { createIngestMetrics } from './metrics.js';
import { assemblePipeline } from './pipeline/assemble.js';
import type { StorageWriter } from './pipeline/sink.js';
import type { Ingest, IngestDeps, StopResult } from './service.js';

export type { Ingest, IngestDeps, IngestStorage, StopResult } from './service.js';

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
  const { pipeline, source, integrity } = assemblePipeline({
    ...deps,
    log,
    metrics,
    kafka,
    retry: retryCfg,
    signal: abort.signal,
    producer: () => producer,
    writer: () => writer,
    leaving: () => stopping !== undefined,
    fatal,
  });

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
