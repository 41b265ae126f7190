import type { KeyObject } from 'node:crypto';
import type { ClickHouse, EventRow } from '@auditstream/clickhouse';
import { type AuditstreamError, retry } from '@auditstream/core';
import {
  type Chainer,
  type ChainFormat,
  type Checkpointer,
  type CheckpointPublisher,
  type CheckpointStore,
  clickhouseIntegrityStore,
  createChainedInsert,
  createChainer,
  createCheckpointer,
  type IntegrityConfig,
  loadPublicKeyFiles,
  rawSha256,
  recordDlqDecisions,
  type SigningKey,
  signingKeyFromConfig,
} from '@auditstream/integrity';
import type { Logger } from '@auditstream/observability';
import type { Registry } from 'prom-client';
import { FatalIngestError } from './pipeline/process.js';
import type { DeadLetter } from './types.js';

/** What ingest needs to chain and sign: the storage client (chain reads, checkpoints, DLQ decisions) and the key. */
export interface IngestIntegrityDeps {
  ch: ClickHouse;
  signingKey: SigningKey;
}

/**
 * The integrity section's key, read at start (main.ts). With `integrity.enabled` (the default)
 * ingest refuses to start without a signing key: storing events it cannot cover with signed
 * checkpoints would be a silent hole in the tamper evidence.
 */
export function integrityFromConfig(cfg: IntegrityConfig, ch: ClickHouse): IngestIntegrityDeps | undefined {
  if (!cfg.enabled) return undefined;
  return { ch, signingKey: signingKeyFromConfig(cfg) };
}

export interface IngestIntegrity {
  chainer: Chainer;
  checkpointer: Checkpointer;
  /** The storage INSERT, hash-chained: chain values set on the rows, then the INSERT, then the checkpointer told. */
  wrapInsert(insert: (rows: EventRow[]) => Promise<void>): (rows: EventRow[]) => Promise<void>;
  /** After the dead letters were acknowledged by Kafka, before their offsets are marked done. */
  recordDeadLetters(deads: readonly DeadLetter[]): Promise<void>;
  /** After a (re)join: forget lost partitions, re-read the chain head and the last checkpoint of the owned ones. */
  onAssigned(topic: string, partitions: readonly number[]): void;
  /** Before giving partitions up (after the final flush and commit): sign what is pending. */
  flush(): Promise<void>;
  /** The group was left (shutdown): nothing is owned any more, later checkpoints are dropped. */
  leftGroup(): void;
  start(): void;
  /** After the final flush and commit on shutdown: sign what is pending, stop the timer. */
  stop(): Promise<void>;
}

export interface CreateIngestIntegrityOptions extends IngestIntegrityDeps {
  config: Pick<IntegrityConfig, 'checkpoint_every_events' | 'checkpoint_interval_ms' | 'public_key_files'> & {
    merkle_enabled?: boolean;
    chain_format?: number;
  };
  publisher: CheckpointPublisher;
  registry: Registry;
  logger: Logger;
  retry: { initial_delay_ms: number; max_delay_ms: number };
  signal: AbortSignal;
}

/**
 * Wires @auditstream/integrity into ingest (docs/integrity.md, "Chain protocol in ingest"):
 * the chainer sets chain_seq/prev_hash/hash on the rows right before the INSERT, the
 * checkpointer signs the partitions' heads, and every dead letter is recorded in
 * dlq_decisions before its offset can be committed.
 */
export function createIngestIntegrity(opts: CreateIngestIntegrityOptions): IngestIntegrity {
  const log = opts.logger;
  // Checkpoints that may anchor a chain whose rows are gone: ours, and the configured public keys (rotation).
  const trustedKeys = new Map<string, KeyObject>([[opts.signingKey.keyId, opts.signingKey.publicKey]]);
  if (opts.config.public_key_files.length > 0) for (const [id, k] of loadPublicKeyFiles(opts.config.public_key_files)) trustedKeys.set(id, k);
  const chainer = createChainer({ ch: opts.ch, logger: log, metrics: opts.registry, trustedKeys, format: opts.config.chain_format as ChainFormat | undefined });
  let owned = new Set<string>();
  const key = (topic: string, p: number) => `${topic}\u0000${p}`;
  // A checkpoint of a partition this instance no longer owns is dropped, never stored nor
  // published: the new owner read the partition's last checkpoint when it got it, and a late one
  // of ours would fork the checkpoint chain. The new owner's checkpoints cover those rows (its
  // chain links to them). (@auditstream/integrity has no "forget without signing" yet.)
  const base = clickhouseIntegrityStore(opts.ch);
  const dropped = new Set<string>();
  const store: CheckpointStore = {
    lastCheckpoint: (topic, p) => base.lastCheckpoint(topic, p),
    leaves: (topic, p, from, to) => base.leaves(topic, p, from, to),
    async insertCheckpoint(c) {
      if (owned.has(key(c.topic, c.partition))) return base.insertCheckpoint(c);
      dropped.add(c.signature);
      log.warn(
        { topic: c.topic, partition: c.partition, last_offset: c.last_offset },
        'checkpoint of a partition this instance no longer owns dropped; the new owner signs these rows',
      );
    },
  };
  const publisher: CheckpointPublisher = {
    async publish(c) {
      if (dropped.delete(c.signature)) return;
      await opts.publisher.publish(c);
    },
  };
  const checkpointer = createCheckpointer({
    store,
    publisher,
    signingKey: opts.signingKey,
    everyEvents: opts.config.checkpoint_every_events,
    intervalMs: opts.config.checkpoint_interval_ms,
    merkle: opts.config.merkle_enabled ?? true,
    metrics: opts.registry,
    logger: log,
  });

  return {
    chainer,
    checkpointer,
    wrapInsert(insert) {
      const chained = createChainedInsert({ chainer, checkpointer, insert });
      return async (rows) => {
        await chained(rows);
      };
    },
    async recordDeadLetters(deads) {
      if (deads.length === 0) return;
      const decisions = deads.map((d) => ({
        topic: d.source.topic,
        partition: d.source.partition,
        offset: d.source.offset,
        reason: d.errorClass,
        raw_sha256: rawSha256(d.source.value),
      }));
      try {
        await retry(() => recordDlqDecisions(opts.ch, decisions), {
          ...opts.retry,
          max_attempts: Number.POSITIVE_INFINITY,
          shouldRetry: (err) => (err as AuditstreamError).retriable === true && !opts.signal.aborted,
          onRetry: (err, attempt) => {
            if (attempt === 0 || attempt % 10 === 9)
              log.warn({ code: (err as AuditstreamError).code, attempt: attempt + 1 }, 'recording dead-letter decisions failed transiently; retrying');
          },
          signal: opts.signal,
        });
      } catch (err) {
        const e = err as AuditstreamError;
        throw new FatalIngestError(
          e?.code ?? 'INTEGRITY_DLQ_DECISIONS',
          `recording dead-letter decisions in dlq_decisions failed (run \`auditstream migrate\` if the table is missing): ${e?.message ?? String(err)}`,
          { cause: err, ...(e?.retriable ? { retriable: true } : {}) },
        );
      }
    },
    onAssigned(topic, partitions) {
      const next = new Set(partitions.map((p) => key(topic, p)));
      const lost = [...owned].filter((k) => !next.has(k)).map((k) => Number(k.split('\u0000')[1]));
      // Ownership changes first: what is still pending for a lost partition is dropped, not signed.
      owned = next;
      for (const p of lost) {
        chainer.release(topic, p);
        checkpointer
          .release(topic, p)
          .catch((err) => log.warn({ topic, partition: p, err: (err as Error)?.message }, 'releasing a partition from the checkpointer failed'));
      }
      for (const p of partitions) {
        // Another instance may have written this partition since we last owned it: start from what is stored.
        chainer.release(topic, p);
        chainer
          .loadHead(topic, p)
          .catch((err) =>
            log.warn({ topic, partition: p, err: (err as Error)?.message }, 'reading the chain head failed; it is read again before the first INSERT'),
          );
        checkpointer
          .assign(topic, p)
          .catch((err) =>
            log.warn({ topic, partition: p, err: (err as Error)?.message }, 'reading the last checkpoint failed; it is read again before signing'),
          );
      }
    },
    flush: () => checkpointer.flush(),
    leftGroup() {
      owned = new Set();
    },
    start: () => checkpointer.start(),
    stop: () => checkpointer.stop(),
  };
}
