import type { ClickHouse } from '@auditstream/clickhouse';
import { AuditstreamError, type MinimalLogger } from '@auditstream/core';
import type { Producer } from 'kafkajs';
import type { Registry } from 'prom-client';
import { type Checkpoint, checkpointHash, checkpointSigningInput, GENESIS_CHECKPOINT_HASH, signCheckpoint } from './checkpoint.js';
import { type SigningKey, verifyBytes } from './keys.js';
import { leafHash, MerkleFrontier } from './merkle.js';
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
    ...(c.tree_root !== undefined ? { tree_size: c.tree_size, tree_root: c.tree_root } : {}),
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
  // A tree head (version 2) is both fields or neither.
  const tree_size = s('tree_size');
  const tree_root = s('tree_root');
  if ((tree_size === undefined) !== (tree_root === undefined)) return undefined;
  if (tree_size !== undefined && tree_root !== undefined) {
    if (!DIGITS.test(tree_size) || !/^[0-9a-f]{64}$/.test(tree_root)) return undefined;
    return { ...(c as Checkpoint), tree_size, tree_root };
  }
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
  /** Sign a Merkle tree head with each checkpoint (integrity.merkle_enabled). Default true. */
  merkle?: boolean;
}

/** A chain entry just stored: what the tree appends (leaf = the entry hash's 32 bytes). */
export interface InsertedEntry {
  chain_seq: string | number | bigint;
  hash: string;
  /** The chainer's status: a `conflict` re-chains an existing position, so the tree is rebuilt from the store. */
  status?: string;
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
  inserted(topic: string, partition: number, head: InsertedHead, count: number, entries?: readonly InsertedEntry[]): void;
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
  /** The last stored checkpoint as loaded (its tree frontier is where the tree resumes). */
  lastCheckpoint: Checkpoint | undefined;
  /** The Merkle frontier over the entries told so far; undefined: rebuild at the next signing. */
  tree: MerkleFrontier | undefined;
  /** A chain entry is missing (retention): no tree heads for this partition until reassigned. */
  treeUnavailable: boolean;
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
    lastCheckpoint: undefined,
    tree: undefined,
    treeUnavailable: false,
  }));
  const merkle = deps.merkle ?? true;
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
    st.lastCheckpoint = last;
    // Resume from the stored frontier (or an empty tree): entries told from now on extend it, a gap is read from the store.
    st.tree = merkle ? resumeFrom(last, Number.MAX_SAFE_INTEGER) : undefined;
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
    const tree = merkle ? await treeAt(st, head.chain_seq) : undefined;
    const at = now();
    const c = signCheckpoint(deps.signingKey, {
      topic: st.topic,
      partition: st.partition,
      last_offset: head.offset.toString(),
      chain_seq: head.chain_seq.toString(),
      chain_head: head.hash,
      created_at_s: Math.floor(at / 1000),
      prev_checkpoint_hash: st.lastHash,
      ...(tree ? { tree_size: head.chain_seq.toString(), tree_root: tree.root } : {}),
    });
    if (tree) c.tree_frontier = tree.frontier;
    try {
      await store!.insertCheckpoint(c);
    } catch (err) {
      // It may have landed anyway (a timeout after the server wrote it): re-read before the next one.
      st.candidate = c;
      metrics?.checkpointFailures.inc({ stage: 'store' });
      throw err;
    }
    st.lastOffset = head.offset;
    st.lastCheckpoint = c;
    st.lastHash = checkpointHash(c);
    st.lastAt = at;
    st.pending = Math.max(0, st.pending - pendingAtStart);
    metrics?.checkpointsSigned.inc();
    queuePublish(st, c);
    await publishPending(st);
  }

  /**
   * The tree over entries 1..size as {root, frontier} hex, or undefined when it cannot be built.
   * Usually the in-memory frontier already has exactly `size` leaves (inserted() appends each
   * stored entry). Otherwise — after an assignment, a conflict, or entries not told — it resumes
   * from the last checkpoint's frontier (trusted only when signed by our key and its root is the
   * signed one) and reads the entries since from the store: O(entries since the last checkpoint),
   * never the whole partition, except the first time a partition gets a tree.
   */
  async function treeAt(st: PState, seq: bigint): Promise<{ root: string; frontier: string } | undefined> {
    if (st.treeUnavailable || seq > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
    const size = Number(seq);
    if (st.tree && st.tree.size === size) return snapshot(st.tree);
    if (st.tree && st.tree.size < size) {
      // Entries not told (e.g. inserted() without entries): read just the missing ones.
      const base = st.tree;
      st.tree = undefined;
      return extend(st, base, size);
    }
    st.tree = undefined;
    return extend(st, resumeFrom(st.lastCheckpoint, size), size);
  }

  async function extend(st: PState, base: MerkleFrontier, size: number): Promise<{ root: string; frontier: string } | undefined> {
    const local = base.clone();
    try {
      const leaves = await store!.leaves(st.topic, st.partition, BigInt(local.size + 1), BigInt(size));
      for (const l of leaves) local.appendLeafHash(leafHash(l));
    } catch (err) {
      // The tree never holds up the chain's checkpoint: this one is signed without a tree head (version 1).
      metrics?.checkpointFailures.inc({ stage: 'tree' });
      if ((err as { code?: string }).code === 'INTEGRITY_TREE_INCOMPLETE') {
        st.treeUnavailable = true; // a missing entry stays missing: do not re-read the partition every time
        log?.warn(
          { topic: st.topic, partition: st.partition, err: (err as Error).message },
          'no Merkle tree for this partition (a chain entry is missing): checkpoints are signed without a tree head',
        );
      } else
        log?.warn(
          { topic: st.topic, partition: st.partition, err: (err as Error).message },
          'Merkle tree not built (retried at the next checkpoint): this checkpoint is signed without a tree head',
        );
      return undefined;
    }
    // Entries told while the store was read were not appended (st.tree was unset): the next signing reads them.
    st.tree = local;
    return snapshot(local);
  }

  function resumeFrom(cp: Checkpoint | undefined, size: number): MerkleFrontier {
    if (!cp?.tree_root || !cp.tree_size || !cp.tree_frontier || Number(cp.tree_size) > size) return MerkleFrontier.empty();
    if (cp.key_id !== deps.signingKey.keyId || !verifyBytes(deps.signingKey.publicKey, checkpointSigningInput(cp), cp.signature)) return MerkleFrontier.empty();
    const hex = cp.tree_frontier;
    const nodes = hex.match(/[0-9a-f]{64}/g)?.map((h) => Buffer.from(h, 'hex')) ?? [];
    const f = nodes.length * 64 === hex.length ? MerkleFrontier.from(Number(cp.tree_size), nodes) : undefined;
    return f && f.root().toString('hex') === cp.tree_root ? f : MerkleFrontier.empty();
  }

  function snapshot(f: MerkleFrontier): { root: string; frontier: string } {
    return { root: f.root().toString('hex'), frontier: f.nodeList.map((b) => b.toString('hex')).join('') };
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
    inserted(topic, partition, head, count, entries) {
      const st = state(topic, partition);
      if (merkle && st.tree && entries) {
        for (const e of entries) {
          const seq = Number(e.chain_seq);
          if (e.status === 'conflict' && seq <= st.tree.size) {
            st.tree = undefined; // an existing position re-chained: rebuild from what is stored
            break;
          }
          if (seq === st.tree.size + 1) st.tree.appendEntryHash(e.hash);
          else if (seq > st.tree.size + 1) {
            st.tree = undefined; // a gap: read the missing entries from the store at the next signing
            break;
          }
        }
      }
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
