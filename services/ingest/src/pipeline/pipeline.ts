import { isRetriable, retry, withTimeout } from '@auditstream/core';
import type { Logger } from '@auditstream/observability';
import type { IngestMetrics } from '../metrics.js';
import type { DeadLetter, IngestRecord, Outcome, SourceMessage } from '../types.js';
import { type Batcher, createBatcher } from './batcher.js';
import type { MemoryGuard } from './memory.js';
import { createOffsetTracker, type OffsetTracker } from './offsets.js';
import { FatalIngestError } from './process.js';
import type { WriteResult } from './sink.js';
import type { PartitionBatch } from './source.js';
import { timeStage } from './stage-time.js';

export interface PipelineConfig {
  batchMaxRows: number;
  batchMaxBytes: number;
  batchMaxAgeMs: number;
  heartbeatIntervalMs: number;
  retry: { initial_delay_ms: number; max_delay_ms: number };
}

export interface PipelineDeps {
  config: PipelineConfig;
  process: (m: SourceMessage) => Outcome | Promise<Outcome>;
  write: (records: readonly IngestRecord[]) => Promise<WriteResult>;
  deadLetter: (deads: readonly DeadLetter[]) => Promise<void>;
  metrics: IngestMetrics;
  logger: Logger;
  signal: AbortSignal;
  /** A fatal error: the service must stop (nothing of the failed batch was committed). */
  onFatal: (err: unknown) => void;
  /**
   * A rebalance is giving the partitions up: called after the handler's final flush and commit,
   * before kafkajs rejoins (integrity: sign the pending checkpoints while they are still ours).
   */
  beforeRevoke?: () => Promise<void>;
  /** The memory budget: asked before each chunk of a batch is decoded (absent: no budget). */
  memory?: MemoryGuard;
  /** The service is stopping: handlers also call beforeRevoke after their final commit (kafkajs leaves the group after they return). */
  leaving?: () => boolean;
  now?: () => number;
}

export interface Pipeline {
  /** The consumer's eachBatch body: process, buffer, wait until stored and committed. */
  handleBatch(batch: PartitionBatch): Promise<void>;
  /** After a (re)join: drop the state of the previous generation. */
  onAssigned(partitions: number[]): void;
  /** Flush what is buffered now (shutdown, rebalance). */
  flushNow(): void;
  /** Partitions owned since the last (re)join. */
  owned(): number[];
  tracker: OffsetTracker;
  batcher: Batcher<Outcome>;
}

/** Group-membership errors: this generation is over; kafkajs rejoins when the handler throws them. */
/** Messages decoded between two looks at the memory budget. */
export const MEMORY_CHECK_EVERY = 1000;

const GROUP_ERRORS = new Set(['REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'NOT_COORDINATOR_FOR_GROUP', 'FENCED_INSTANCE_ID']);
export const isGroupError = (err: unknown): boolean => GROUP_ERRORS.has(String((err as { type?: unknown })?.type));

/**
 * The heart of ingest. Every partition batch of a fetch round is processed (decode,
 * validate, enrich) into one shared batcher; the handlers then wait while the batcher
 * flushes: one INSERT for the rows, the dead letters to the DLQ topic (acknowledged), then
 * the offsets that became contiguous are committed. Only then do the handlers return, so
 * kafkajs fetches the next round, or rejoins the group after a rebalance, with nothing
 * in flight. While they wait, the handlers keep heartbeating; a heartbeat that reports a
 * rebalance makes the batcher flush at once, and the handler rethrows the error after its
 * messages are committed, so the partitions are given up with everything stored committed.
 */
export function createPipeline(deps: PipelineDeps): Pipeline {
  const { config, metrics, logger } = deps;
  const tracker = createOffsetTracker();
  let commitFn: PartitionBatch['commit'] | undefined;
  let active = 0;
  let idleCheck: NodeJS.Immediate | undefined;
  let owned = new Set<number>();
  /** Newest occurred_at (µs) stored per partition. */
  const newest = new Map<number, number>();

  async function flush(items: Outcome[], stats: { rows: number; bytes: number }): Promise<void> {
    const records: IngestRecord[] = [];
    const deads: DeadLetter[] = [];
    for (const o of items) {
      if (o.kind === 'record') records.push(o.record);
      else deads.push(o.dead);
    }
    if (records.length > 0) {
      const started = performance.now();
      const res = await deps.write(records);
      const at = Date.now();
      metrics.insertDuration.observe((performance.now() - started) / 1000);
      metrics.batchRows.observe(records.length);
      metrics.batchBytes.observe(stats.bytes);
      metrics.inserted.inc(res.inserted.length);
      for (const r of res.inserted) {
        metrics.endToEndDelay.observe(Math.max(0, at - r.event.occurred_at / 1000) / 1000);
        const p = r.source.partition;
        if (r.event.occurred_at > (newest.get(p) ?? Number.NEGATIVE_INFINITY)) newest.set(p, r.event.occurred_at);
      }
      // Freshness (docs/ingest.md#freshness): the newest stored event time per partition, never back.
      for (const [p, us] of newest) metrics.newestStored.set({ partition: String(p) }, us / 1e6);
      for (const rej of res.rejected) deads.push({ source: rej.record.source, errorClass: 'rejected', reason: rej.reason });
    }
    await timeStage(metrics, 'dlq', () => deps.deadLetter(deads));
    for (const o of items) {
      const s = o.kind === 'record' ? o.record.source : o.dead.source;
      tracker.done(s.partition, s.offset);
    }
    await timeStage(metrics, 'commit', commit);
  }

  async function commit(): Promise<void> {
    const offsets = tracker.committable().filter((o) => owned.has(o.partition));
    if (offsets.length === 0 || !commitFn) return;
    const fn = commitFn;
    try {
      await retry(() => fn(offsets), {
        ...config.retry,
        max_attempts: 10,
        shouldRetry: (err) => !isGroupError(err) && !deps.signal.aborted && (isRetriable(err) || (err as { retriable?: unknown })?.retriable === true),
        onRetry: (err) => metrics.errors.inc({ stage: 'commit', error_type: String((err as { type?: unknown })?.type ?? 'other') }),
        signal: deps.signal,
      });
      for (const o of offsets) tracker.committed(o.partition, o.offset);
    } catch (err) {
      // Stored rows stay stored: an uncommitted offset only means redelivery, and redelivered
      // rows are byte-identical and collapse in the ReplacingMergeTree.
      metrics.errors.inc({ stage: 'commit', error_type: String((err as { type?: unknown })?.type ?? 'other') });
      logger.warn({ err: (err as Error)?.message, group_error: isGroupError(err) }, 'offset commit failed; those messages will be redelivered');
    }
  }

  const batcher = createBatcher<Outcome>({
    maxRows: config.batchMaxRows,
    maxBytes: config.batchMaxBytes,
    maxAgeMs: config.batchMaxAgeMs,
    flush,
    onSize: (rows, bytes) => {
      metrics.bufferEvents.set(rows);
      metrics.bufferBytes.set(bytes);
    },
    ...(deps.now ? { now: deps.now } : {}),
  });

  async function waitStored(done: Promise<void>, heartbeat: () => Promise<void>): Promise<void> {
    let groupError: unknown;
    let finished = false;
    const settled = done.finally(() => {
      finished = true;
    });
    settled.catch(() => {});
    while (!finished) {
      await withTimeout(
        settled.catch(() => {}),
        config.heartbeatIntervalMs,
        () => {},
      );
      if (finished) break;
      try {
        await heartbeat();
      } catch (err) {
        if (isGroupError(err)) {
          if (groupError === undefined)
            logger.info({ reason: (err as { type?: string }).type }, 'group rebalancing: flushing and committing before giving partitions up');
          groupError ??= err;
          batcher.flushNow();
        } else logger.debug({ err: (err as Error)?.message }, 'heartbeat failed while waiting for a flush');
      }
    }
    await settled;
    if (groupError !== undefined) throw groupError;
  }

  /** waitStored, then: a group error gives the partitions up (kafkajs rejoins), anything else is fatal. */
  async function guarded(done: Promise<void>, heartbeat: () => Promise<void>): Promise<void> {
    try {
      await waitStored(done, heartbeat);
    } catch (err) {
      if (!isGroupError(err)) deps.onFatal(err);
      else if (deps.beforeRevoke) await deps.beforeRevoke().catch((e) => logger.warn({ err: (e as Error)?.message }, 'preparing to give partitions up failed'));
      throw err;
    }
  }

  return {
    tracker,
    batcher,
    flushNow: () => batcher.flushNow(),
    owned: () => [...owned].sort((a, b) => a - b),
    onAssigned(partitions) {
      // A new generation: kafkajs resumes every partition from its committed offset, and no
      // handler is running (kafkajs rejoins only after they all returned).
      tracker.forget();
      for (const p of owned) if (!partitions.includes(p)) metrics.consumerLag.remove({ partition: String(p) });
      owned = new Set(partitions);
    },
    async handleBatch(batch) {
      if (batch.messages.length === 0) return;
      commitFn = batch.commit;
      owned.add(batch.partition);
      const adds: Promise<void>[] = [];
      const { messages } = batch;
      for (let start = 0; start < messages.length; start += MEMORY_CHECK_EVERY) {
        // Over the budget: decode nothing more (kafkajs fetches nothing more meanwhile) until what is buffered is stored.
        if (deps.memory?.over())
          await guarded(
            deps.memory.relieve(() => batcher.drain()),
            batch.heartbeat,
          );
        active++;
        const entries: { item: Outcome; bytes: number }[] = [];
        const processStarted = performance.now();
        try {
          for (const m of messages.slice(start, start + MEMORY_CHECK_EVERY)) {
            tracker.add(m.partition, m.offset);
            let o = deps.process(m);
            if (o instanceof Promise) o = await o;
            entries.push({ item: o, bytes: m.size });
          }
        } catch (err) {
          active--;
          const fatal =
            err instanceof FatalIngestError
              ? err
              : new FatalIngestError('INGEST_INTERNAL', `processing a batch failed: ${(err as Error)?.message}`, { cause: err });
          deps.onFatal(fatal);
          throw fatal;
        }
        active--;
        metrics.stageSeconds.inc({ stage: 'process' }, (performance.now() - processStarted) / 1000);
        const added = batcher.add(entries);
        added.catch(() => {}); // awaited below, with the others
        adds.push(added);
      }
      tracker.seal(batch.partition, batch.lastOffset);
      metrics.received.inc(messages.length);
      const done = Promise.all(adds).then(() => {});
      // kafkajs starts the handlers of one fetch round one after the other in the same tick;
      // once none is still processing, every batch of the round is buffered and nothing more
      // can arrive before they return, so waiting for the age limit would only add latency.
      if (!idleCheck)
        idleCheck = setImmediate(() => {
          idleCheck = undefined;
          if (active === 0) batcher.flushNow();
        });
      await guarded(done, batch.heartbeat);
      if (deps.leaving?.() && deps.beforeRevoke)
        await deps.beforeRevoke().catch((e) => logger.warn({ err: (e as Error)?.message }, 'preparing to give partitions up failed'));
    },
  };
}
