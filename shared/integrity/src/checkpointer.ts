import type { ClickHouse } from '@auditstream/clickhouse';
import { AuditstreamError, type MinimalLogger } from '@auditstream/core';
import type { Producer } from 'kafkajs';
import type { Registry } from 'prom-client';
import { type Checkpoint, checkpointHash, GENESIS_CHECKPOINT_HASH, signCheckpoint } from './checkpoint.js';
import type { SigningKey } from './keys.js';
import { type IntegrityMetrics, integrityMetrics } from './metrics.js';
import { partitionStates } from './partitions.js';
import { type CheckpointStore, clickhouseIntegrityStore } from './store.js';

/** Where a signed checkpoint is published besides the table: the Kafka topic `audit.checkpoints`. */
export interface CheckpointPublisher {
  publish(checkpoint: Checkpoint): Promise<void>;
}

/** The JSON value of a checkpoint message on the checkpoints topic (key `<topic>:<partition>`). */
export function checkpointMessageValue(c: Checkpoint): string {
  return JSON.stringify({
    v: 1,
    topic: c.topic,
    partition: c.partition,
    last_offset: c.last_offset,
    chain_seq: c.chain_seq,
    chain_head: c.chain_head,
    created_at_s: c.created_at_s,
    prev_checkpoint_hash: c.prev_checkpoint_hash,
    key_id: c.key_id,
    signature: c.signature,
  });
}

export function checkpointMessageKey(c: Pick<Checkpoint, 'topic' | 'partition'>): string {
  return `${c.topic}:${c.partition}`;
}

const DIGITS = /^\d{1,20}$/;
/** Parses a checkpoints-topic message value; undefined when it is not a well-formed checkpoint. */
export function parseCheckpointMessage(value: Buffer | string | null): Checkpoint | undefined {
  if (value === null) return undefined;
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(typeof value === 'string' ? value : value.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!o || typeof o !== 'object') return undefined;
  const s = (k: string) => (typeof o[k] === 'string' ? (o[k] as string) : undefined);
  const n = (k: string) => (typeof o[k] === 'number' && Number.isSafeInteger(o[k]) ? (o[k] as number) : undefined);
  const c = {
    topic: s('topic'),
    partition: n('partition'),
    last_offset: s('last_offset'),
    chain_seq: s('chain_seq'),
    chain_head: s('chain_head'),
    created_at_s: n('created_at_s'),
    prev_checkpoint_hash: s('prev_checkpoint_hash'),
    key_id: s('key_id'),
    signature: s('signature'),
  };
  if (Object.values(c).some((v) => v === undefined)) return undefined;
  if (!DIGITS.test(c.last_offset as string) || !DIGITS.test(c.chain_seq as string)) return undefined;
  return c as Checkpoint;
}

/** Publishes checkpoints with a kafkajs producer (acks=all), e.g. ingest's dead-letter producer. */
export function kafkaCheckpointPublisher(producer: Pick<Producer, 'send'>, topic: string, options: { timeout_ms?: number } = {}): CheckpointPublisher {
  return {
    async publish(c) {
      await producer.send({
        topic,
        acks: -1,
        timeout: options.timeout_ms ?? 30_000,
        messages: [{ key: checkpointMessageKey(c), value: checkpointMessageValue(c) }],
      });
    },
  };
}

export interface CheckpointerDeps {
  ch?: ClickHouse;
  /** Instead of `ch` (unit tests). */
  store?: CheckpointStore;
  /** Kafka copy of each checkpoint; without it checkpoints go to the table only. */
  publisher?: CheckpointPublisher;
  signingKey: SigningKey;
  /** Sign once this many events were inserted since the last checkpoint of a partition. */
  everyEvents: number;
  /** ... or once this long has passed since it, when events were inserted. */
  intervalMs: number;
  metrics?: Registry;
  logger?: Pick<MinimalLogger, 'info' | 'warn' | 'error'>;
  /** Clock (tests). */
  now?: () => number;
  /** How often the interval is checked; default min(intervalMs / 4, 5 s), at least 100 ms. */
  tickMs?: number;
  /** Checkpoints kept for a publish retry per partition when Kafka is down (oldest dropped). Default 10,000. */
  maxUnpublished?: number;
}

/** The newest stored chain entry of a partition, as the chainer produced it. */
export interface InsertedHead {
  offset: string | number | bigint;
  chain_seq: string | number | bigint;
  hash: string;
}

export interface Checkpointer {
  /** Reads the partition's latest checkpoint (hash and offset) to link the next one to. Call on assignment. */
  assign(topic: string, partition: number): Promise<void>;
  /**
   * After a successful INSERT: `head` is the highest-offset chain entry now stored for the
   * partition, `count` how many entries the insert stored. May start signing in the background
   * (never blocks the caller; failures are logged, counted and retried).
   */
  inserted(topic: string, partition: number, head: InsertedHead, count: number): void;
  /** Signs what is pending now (all partitions, or one) and waits for it: before giving a partition up and on shutdown. */
  flush(topic?: string, partition?: number): Promise<void>;
  /** flush, then forget the partition (revoked). */
  release(topic: string, partition: number): Promise<void>;
  /** Starts the interval timer. */
  start(): void;
  /** Stops the timer and flushes everything. */
  stop(): Promise<void>;
}

interface PState {
  topic: string;
  partition: number;
  loaded: boolean;
  lastOffset: bigint;
  lastHash: string;
  lastAt: number;
  head: { offset: bigint; chain_seq: bigint; hash: string } | undefined;
  pending: number;
  unpublished: Checkpoint[];
  /** A stored checkpoint we could not confirm (the INSERT failed): reload before the next one. */
  candidate: Checkpoint | undefined;
  queue: Promise<void>;
  scheduled: boolean;
}

/**
 * Signs, per partition, checkpoints of the chain: `(topic, partition, last offset, chain_seq,
 * chain head, time, previous checkpoint hash)` with the Ed25519 signing key, every `everyEvents`
 * inserted events or every `intervalMs` (whichever first, and only when something new was
 * inserted). Each checkpoint is stored in `<db>.checkpoints` FIRST, then published to the
 * checkpoints topic (key `topic:partition`, JSON value): a crash in between leaves a checkpoint
 * that is only in the table (verify warns), never one only in Kafka. Checkpoints link to the
 * previous one by hash, so removing or replacing one breaks the link; they only ever cover rows
 * already inserted (ingest calls `inserted` after its INSERT succeeded), and each covers a
 * higher offset than the one before (a re-delivered batch signs nothing twice).
 */
export function createCheckpointer(deps: CheckpointerDeps): Checkpointer {
  const store = deps.store ?? (deps.ch ? clickhouseIntegrityStore(deps.ch) : undefined);
  if (!store) throw new AuditstreamError('INTEGRITY_CONFIG', 'createCheckpointer needs a ClickHouse client (ch) or a store', { field: 'ch' });
  if (!Number.isInteger(deps.everyEvents) || deps.everyEvents < 1)
    throw new AuditstreamError('INTEGRITY_CONFIG', 'checkpoint_every_events must be a positive integer', { field: 'checkpoint_every_events' });
  if (!Number.isInteger(deps.intervalMs) || deps.intervalMs < 1)
    throw new AuditstreamError('INTEGRITY_CONFIG', 'checkpoint_interval_ms must be a positive integer', { field: 'checkpoint_interval_ms' });
  const now = deps.now ?? Date.now;
  const metrics: IntegrityMetrics | undefined = deps.metrics ? integrityMetrics(deps.metrics) : undefined;
  const log = deps.logger;
  const maxUnpublished = deps.maxUnpublished ?? 10_000;
  const states = partitionStates<PState>((topic, partition) => ({
    topic,
    partition,
    loaded: false,
    lastOffset: -1n,
    lastHash: GENESIS_CHECKPOINT_HASH,
    lastAt: now(),
    head: undefined,
    pending: 0,
    unpublished: [],
    candidate: undefined,
    queue: Promise.resolve(),
    scheduled: false,
  }));
  const state = (topic: string, partition: number): PState => states.get(topic, partition);
  let timer: NodeJS.Timeout | undefined;

  async function load(st: PState): Promise<void> {
    let last: Checkpoint | undefined;
    try {
      last = await store!.lastCheckpoint(st.topic, st.partition);
    } catch (err) {
      metrics?.checkpointFailures.inc({ stage: 'load' });
      throw err;
    }
    if (st.candidate && last && last.signature === st.candidate.signature) {
      // The INSERT we thought had failed did land: publish it like any other.
      queuePublish(st, st.candidate);
      metrics?.checkpointsSigned.inc();
    }
    st.candidate = undefined;
    st.lastOffset = last ? BigInt(last.last_offset) : -1n;
    st.lastHash = last ? checkpointHash(last) : GENESIS_CHECKPOINT_HASH;
    if (!st.loaded) st.lastAt = now();
    st.loaded = true;
  }

  function queuePublish(st: PState, c: Checkpoint): void {
    st.unpublished.push(c);
    if (st.unpublished.length > maxUnpublished) {
      const dropped = st.unpublished.shift() as Checkpoint;
      log?.error(
        { topic: st.topic, partition: st.partition, last_offset: dropped.last_offset },
        'checkpoint never reached the checkpoints topic (kept in ClickHouse only): too many unpublished',
      );
    }
  }

  async function publishPending(st: PState): Promise<void> {
    if (!deps.publisher) {
      st.unpublished = [];
      return;
    }
    while (st.unpublished.length > 0) {
      const c = st.unpublished[0] as Checkpoint;
      try {
        await deps.publisher.publish(c);
      } catch (err) {
        metrics?.checkpointFailures.inc({ stage: 'publish' });
        log?.warn(
          { topic: st.topic, partition: st.partition, last_offset: c.last_offset, err: (err as Error).message, unpublished: st.unpublished.length },
          'checkpoint stored but not yet published to the checkpoints topic; retrying on the next tick',
        );
        return;
      }
      st.unpublished.shift();
    }
  }

  async function signNow(st: PState): Promise<void> {
    st.scheduled = false;
    if (!st.loaded || st.candidate) await load(st);
    await publishPending(st);
    const head = st.head;
    if (!head || head.offset <= st.lastOffset) {
      st.pending = 0;
      return;
    }
    const pendingAtStart = st.pending;
    const at = now();
    const c = signCheckpoint(deps.signingKey, {
      topic: st.topic,
      partition: st.partition,
      last_offset: head.offset.toString(),
      chain_seq: head.chain_seq.toString(),
      chain_head: head.hash,
      created_at_s: Math.floor(at / 1000),
      prev_checkpoint_hash: st.lastHash,
    });
    try {
      await store!.insertCheckpoint(c);
    } catch (err) {
      // It may have landed anyway (a timeout after the server wrote it): re-read before the next one.
      st.candidate = c;
      metrics?.checkpointFailures.inc({ stage: 'store' });
      throw err;
    }
    st.lastOffset = head.offset;
    st.lastHash = checkpointHash(c);
    st.lastAt = at;
    st.pending = Math.max(0, st.pending - pendingAtStart);
    metrics?.checkpointsSigned.inc();
    queuePublish(st, c);
    await publishPending(st);
  }

  /** Runs `fn` after everything queued for the partition; the queue itself never rejects. */
  function enqueue(st: PState, fn: () => Promise<void>): Promise<void> {
    const run = st.queue.then(fn);
    st.queue = run.catch(() => {});
    return run;
  }

  function schedule(st: PState): Promise<void> {
    if (st.scheduled) return st.queue;
    st.scheduled = true;
    return enqueue(st, () =>
      signNow(st).catch((err) => {
        log?.error({ topic: st.topic, partition: st.partition, err: (err as Error).message }, 'checkpoint not signed; retrying on the next tick');
      }),
    );
  }

  function tick(): void {
    const t = now();
    for (const st of states.values()) {
      const due = st.head !== undefined && st.head.offset > st.lastOffset && t - st.lastAt >= deps.intervalMs;
      if (due || st.candidate || st.unpublished.length > 0) void schedule(st);
    }
  }

  const api: Checkpointer = {
    assign(topic, partition) {
      const st = state(topic, partition);
      return enqueue(st, () => load(st));
    },
    inserted(topic, partition, head, count) {
      const st = state(topic, partition);
      const h = { offset: BigInt(head.offset), chain_seq: BigInt(head.chain_seq), hash: head.hash };
      if (!st.head || h.offset > st.head.offset) st.head = h;
      st.pending += count;
      if (st.pending >= deps.everyEvents) void schedule(st);
    },
    async flush(topic, partition) {
      const targets = [...states.values()].filter((s) => (topic === undefined || s.topic === topic) && (partition === undefined || s.partition === partition));
      await Promise.all(targets.map((st) => schedule(st)));
    },
    async release(topic, partition) {
      await api.flush(topic, partition);
      states.delete(topic, partition);
    },
    start() {
      if (timer) return;
      const every = deps.tickMs ?? Math.max(100, Math.min(Math.floor(deps.intervalMs / 4), 5000));
      timer = setInterval(tick, every);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await api.flush();
    },
  };
  return api;
}
