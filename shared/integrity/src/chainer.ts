import type { KeyObject } from 'node:crypto';
import type { ClickHouse, EventRow } from '@auditstream/clickhouse';
import { AuditstreamError, type MinimalLogger } from '@auditstream/core';
import type { Registry } from 'prom-client';
import { type ChainContent, GENESIS_HASH } from './chain.js';
import { type Checkpoint, verifyCheckpoint } from './checkpoint.js';
import { type ChainFormat, type ChainSource, DEFAULT_CHAIN_FORMAT, hashSource, sourceOfContent, sourceOfRow } from './entry.js';
import { type IntegrityMetrics, integrityMetrics } from './metrics.js';
import { partitionKey, partitionStates } from './partitions.js';
import { type ChainStore, clickhouseIntegrityStore, type StoredLink } from './store.js';

/**
 * The chain values of one entry, and what the chainer found at its offset:
 * - `new`: nothing was stored at this offset; insert the row.
 * - `stored`: a re-delivered message; the row stored at this offset has exactly these values and
 *   the same content. Re-inserting it is harmless (a byte-identical copy the table collapses).
 * - `mismatch`: a re-delivered message whose stored row (same event_id, same place in the chain)
 *   has different content, e.g. enrichment changed between the two deliveries. The values are the
 *   STORED ones; do NOT insert this row: the stored row is the chain entry (a second, different
 *   copy would show up as a modified row).
 * - `conflict`: a different event (or a row that does not link) is stored at this offset; the entry
 *   is chained anew from the previous one and must be inserted. Counted and logged: a stored
 *   row that contradicts Kafka is a sign of tampering, or of two writers on one partition.
 */
export type LinkStatus = 'new' | 'stored' | 'mismatch' | 'conflict';

export interface ChainLink {
  chain_seq: bigint;
  prev_hash: string;
  hash: string;
  status: LinkStatus;
}

/** The latest entry of a partition's chain the chainer knows of. */
export interface ChainHead {
  offset: bigint;
  chain_seq: bigint;
  hash: string;
  /** Where it came from: a stored row, a signed checkpoint (its rows are missing!), or this process. */
  source: 'row' | 'checkpoint' | 'memory';
}

export interface ChainerDeps {
  /** The storage module's client (the ingest account reads the chain columns and checkpoints). */
  ch?: ClickHouse;
  /** Instead of `ch`: any ChainStore (unit tests). */
  store?: ChainStore;
  logger?: Pick<MinimalLogger, 'info' | 'warn' | 'error'>;
  /** Registry for auditstream_ingest_chain_redelivered_total. */
  metrics?: Registry;
  /**
   * Public keys whose checkpoints may anchor the chain when their rows are gone (e.g. the
   * signing key's own public key). Without it every stored checkpoint is trusted as an anchor.
   */
  trustedKeys?: ReadonlyMap<string, KeyObject>;
  /** How many offsets of a re-delivered range are read back per query. Default 10,000. */
  pageOffsets?: number;
  /** The entry format of new entries (integrity.chain_format). Default 2. Stored entries of either format are recognised. */
  format?: ChainFormat;
}

export interface Chainer {
  /**
   * Reads the partition's chain head from ClickHouse: the row with the highest kafka_offset (its
   * hash, chain_seq and offset), or the latest checkpoint when that is further (its rows are
   * missing). Call on partition assignment; `next` calls it itself when it was not.
   */
  loadHead(topic: string, partition: number): Promise<ChainHead | undefined>;
  /** The chain values for the message at `offset`. Calls for one partition are serialized; call in offset order. */
  next(topic: string, partition: number, offset: string | number | bigint, content: ChainContent): Promise<ChainLink>;
  /**
   * Chains rows built by the storage module's toRow (any mix of partitions): per partition in
   * offset order, sets each row's chain_seq, prev_hash and hash in place, and returns each row's
   * link in input order. Rows whose status is `mismatch` must not be inserted.
   */
  chainRows(rows: EventRow[]): Promise<ChainLink[]>;
  /**
   * The rows chained since the last successful insert were NOT all stored (the INSERT failed,
   * or some rows were refused and will be dead-lettered): the next call re-reads the chain
   * before its offset from ClickHouse and continues from there, so refused rows get no entry.
   */
  rewind(topic: string, partition: number): void;
  /** Forgets a partition (revoked). */
  release(topic: string, partition: number): void;
  /** The last entry handed out or loaded for a partition. */
  head(topic: string, partition: number): ChainHead | undefined;
}

/** Rows hashed between two turns of the event loop in chainRows (~50 ms of work). */
const YIELD_EVERY = 2048;

interface PartitionState {
  topic: string;
  partition: number;
  loaded: boolean;
  /** Highest offset known stored (rows or a checkpoint) at the last read: offsets up to it are re-deliveries. */
  storedHead: bigint;
  /** The entry the next one links to. */
  cursor: ChainHead | undefined;
  /** Read back rows for offsets in [cacheFrom, cacheTo]. */
  cache: Map<bigint, StoredLink[]>;
  cacheFrom: bigint;
  cacheTo: bigint;
  /** Re-read the chain before the next offset from the store (after rewind). */
  reposition: boolean;
  queue: Promise<unknown>;
}

/**
 * The per-partition hash chain as ingest builds it:
 *
 *   hash = SHA-256(prev_hash || entry),  prev_hash of chain_seq 1 = GENESIS_HASH (64 zeros)
 *
 * with the entry in `format` (entry.ts).
 *
 * Protocol (docs/integrity.md, "Chain protocol"):
 * 1. On assignment `loadHead` reads the head: the highest-offset row (or the latest checkpoint
 *    when its offset is higher: then rows it covers are missing and the chain continues from the
 *    signed head rather than silently re-linking over the hole).
 * 2. Ingest resumes at the committed offset C, which may be BELOW the head after a crash (rows
 *    were inserted, the commit was not). A message at an offset ≤ the stored head is a
 *    re-delivery: the chainer repositions on the entry stored just before it, reads back the
 *    stored (chain_seq, prev_hash, hash) of the re-delivered range (by offset, a page at a time),
 *    and returns those values when the stored row links to the previous entry; if the content is
 *    the same the row is byte-identical (`stored`), if not it must not be re-inserted
 *    (`mismatch`). An offset in that range with no stored row (dead-lettered before, or lost in a
 *    partial insert) is chained anew from the previous entry, which reproduces the original
 *    values when the content is the same.
 * 3. After the head, every message links to the previous one (`new`).
 * 4. An INSERT that fails, or rows ClickHouse refuses, leave chained-but-unstored entries:
 *    `rewind` makes the next call re-read the chain from the store, so the refused rows get no
 *    entry and their successors link to the last stored entry. Dead-lettered messages never
 *    get an entry; their offsets are recorded with recordDlqDecisions.
 * Everything is a function of the Kafka messages and what is stored, so a crash at any point
 * and the re-delivery after it produce the same chain.
 */
export function createChainer(deps: ChainerDeps): Chainer {
  const store = deps.store ?? (deps.ch ? clickhouseIntegrityStore(deps.ch) : undefined);
  if (!store) throw new AuditstreamError('INTEGRITY_CONFIG', 'createChainer needs a ClickHouse client (ch) or a store', { field: 'ch' });
  const metrics: IntegrityMetrics | undefined = deps.metrics ? integrityMetrics(deps.metrics) : undefined;
  const log = deps.logger;
  const page = BigInt(deps.pageOffsets ?? 10_000);
  const format = deps.format ?? DEFAULT_CHAIN_FORMAT;
  if (format !== 1 && format !== 2)
    throw new AuditstreamError('INTEGRITY_CONFIG', `chain_format must be 1 or 2, not ${String(format)}`, { field: 'chain_format' });
  const states = partitionStates<PartitionState>((topic, partition) => ({
    topic,
    partition,
    loaded: false,
    storedHead: -1n,
    cursor: undefined,
    cache: new Map(),
    cacheFrom: 0n,
    cacheTo: -1n,
    reposition: false,
    queue: Promise.resolve(),
  }));
  const state = (topic: string, partition: number): PartitionState => states.get(topic, partition);

  /** Runs `fn` after every earlier call for the partition (calls for one partition never interleave). */
  function serialized<T>(st: PartitionState, fn: () => Promise<T>): Promise<T> {
    const run = st.queue.then(fn, fn);
    st.queue = run.catch(() => {});
    return run;
  }

  function trusted(c: Checkpoint): boolean {
    if (!deps.trustedKeys) return true;
    const ok = verifyCheckpoint(c, deps.trustedKeys).ok;
    if (!ok)
      log?.error(
        { topic: c.topic, partition: c.partition, last_offset: c.last_offset, key_id: c.key_id },
        'stored checkpoint does not verify: not used as a chain anchor',
      );
    return ok;
  }

  /** Picks, among rows stored at one offset, the one that continues `prev` (or the first). */
  function pick(rows: StoredLink[], prev: ChainHead | undefined): StoredLink | undefined {
    if (rows.length <= 1) return rows[0];
    const expSeq = (prev?.chain_seq ?? 0n) + 1n;
    const expPrev = prev?.hash ?? GENESIS_HASH;
    return rows.find((r) => r.prev_hash === expPrev && r.chain_seq === expSeq) ?? rows[0];
  }

  /** The entry just below `below` (or the highest of all): the later of the stored row and the stored checkpoint. */
  async function anchor(st: PartitionState, below: bigint | undefined): Promise<ChainHead | undefined> {
    const [rows, cp] = await Promise.all([
      below === undefined ? store!.head(st.topic, st.partition) : store!.before(st.topic, st.partition, below),
      store!.lastCheckpoint(st.topic, st.partition, below),
    ]);
    let prevOfRow: ChainHead | undefined;
    if (rows.length > 1) {
      const first = rows[0] as StoredLink;
      const earlier = await store!.before(st.topic, st.partition, first.offset);
      const e = earlier[0];
      prevOfRow = e ? { offset: e.offset, chain_seq: e.chain_seq, hash: e.hash, source: 'row' } : undefined;
    }
    const row = pick(rows, prevOfRow);
    const fromRow: ChainHead | undefined = row ? { offset: row.offset, chain_seq: row.chain_seq, hash: row.hash, source: 'row' } : undefined;
    const fromCp: ChainHead | undefined =
      cp && trusted(cp) ? { offset: BigInt(cp.last_offset), chain_seq: BigInt(cp.chain_seq), hash: cp.chain_head, source: 'checkpoint' } : undefined;
    if (fromCp && (!fromRow || fromCp.offset > fromRow.offset)) {
      log?.error(
        { topic: st.topic, partition: st.partition, checkpoint_offset: fromCp.offset.toString(), stored_offset: fromRow?.offset.toString() ?? null },
        'rows covered by a signed checkpoint are missing from ClickHouse: the chain continues from the checkpoint (auditstream verify will report the gap)',
      );
      return fromCp;
    }
    return fromRow;
  }

  async function load(st: PartitionState, below?: bigint): Promise<void> {
    const head = await anchor(st, undefined);
    st.storedHead = head?.offset ?? -1n;
    st.cursor = below !== undefined && head && head.offset >= below ? await anchor(st, below) : head;
    st.cache = new Map();
    st.cacheFrom = 0n;
    st.cacheTo = -1n;
    st.loaded = true;
    st.reposition = false;
  }

  async function storedAt(st: PartitionState, o: bigint): Promise<StoredLink[]> {
    if (o < st.cacheFrom || o > st.cacheTo) {
      const to = o + page - 1n < st.storedHead ? o + page - 1n : st.storedHead;
      const rows = await store!.range(st.topic, st.partition, o, to);
      st.cache = new Map();
      for (const r of rows) {
        const list = st.cache.get(r.offset);
        if (list) list.push(r);
        else st.cache.set(r.offset, [r]);
      }
      st.cacheFrom = o;
      st.cacheTo = to;
    }
    return st.cache.get(o) ?? [];
  }

  function checkContent(st: PartitionState, o: bigint, content: Pick<ChainContent, 'kafka_topic' | 'kafka_partition' | 'kafka_offset'>): void {
    if (content.kafka_topic !== st.topic || content.kafka_partition !== st.partition || content.kafka_offset !== o.toString())
      throw new AuditstreamError('INTEGRITY_CHAIN_INPUT', 'the chained content names another topic, partition or offset than the call', {
        field: 'kafka_offset',
      });
  }

  /** The common case, without I/O: loaded, past the stored head, after the cursor. */
  function fast(st: PartitionState, o: bigint, content: ChainSource): ChainLink | undefined {
    if (!st.loaded || st.reposition || o <= st.storedHead) return undefined;
    // The cursor must be the entry right before `o`: past every stored row, and not behind `o`.
    if (st.cursor ? o <= st.cursor.offset || st.cursor.offset < st.storedHead : st.storedHead >= 0n) return undefined;
    checkContent(st, o, content);
    const prev = st.cursor;
    const seq = (prev?.chain_seq ?? 0n) + 1n;
    const prevHash = prev?.hash ?? GENESIS_HASH;
    const hash = hashSource(content, format, seq, prevHash);
    st.cursor = { offset: o, chain_seq: seq, hash, source: 'memory' };
    return { chain_seq: seq, prev_hash: prevHash, hash, status: 'new' };
  }

  async function step(st: PartitionState, o: bigint, content: ChainSource): Promise<ChainLink> {
    const quick = fast(st, o, content);
    if (quick) return quick;
    checkContent(st, o, content);
    const at = st.cursor?.offset ?? -1n;
    if (!st.loaded) await load(st, o);
    // A rewind, an offset at or before the cursor (re-delivery), or a jump past stored rows
    // (e.g. the rest of a re-delivered range was skipped): re-read the entry stored before `o`.
    else if (st.reposition || (st.cursor && o <= at) || (at < st.storedHead && o > at + 1n)) await load(st, o);
    const prev = st.cursor;
    const seq = (prev?.chain_seq ?? 0n) + 1n;
    const prevHash = prev?.hash ?? GENESIS_HASH;
    let status: LinkStatus = 'new';
    if (o <= st.storedHead) {
      const rows = await storedAt(st, o);
      if (rows.length > 0) {
        const linking = rows.filter((r) => r.prev_hash === prevHash && r.chain_seq === seq);
        // The stored row may be of the other entry format (written before an upgrade): the same content either way.
        let same: StoredLink | undefined;
        for (const f of linking.length > 0 ? [format, format === 2 ? 1 : 2] : []) {
          const h = hashSource(content, f as ChainFormat, seq, prevHash);
          same = linking.find((r) => r.hash === h);
          if (same) break;
        }
        const sameEvent = linking.find((r) => r.event_id === content.event_id);
        const hit = same ?? sameEvent;
        if (hit) {
          status = same ? 'stored' : 'mismatch';
          metrics?.redelivered.inc({ status });
          if (status === 'mismatch')
            log?.warn(
              { topic: st.topic, partition: st.partition, offset: o.toString() },
              're-delivered message differs from its stored row (same event): keeping the stored row, not inserting this one',
            );
          st.cursor = { offset: o, chain_seq: hit.chain_seq, hash: hit.hash, source: 'row' };
          return { chain_seq: hit.chain_seq, prev_hash: hit.prev_hash, hash: hit.hash, status };
        }
        status = 'conflict';
        metrics?.redelivered.inc({ status });
        log?.error(
          { topic: st.topic, partition: st.partition, offset: o.toString() },
          'a stored row at this offset is another event or does not link into the chain: chaining the Kafka message anew (tampering, or two writers on one partition?)',
        );
      }
    }
    const hash = hashSource(content, format, seq, prevHash);
    st.cursor = { offset: o, chain_seq: seq, hash, source: 'memory' };
    return { chain_seq: seq, prev_hash: prevHash, hash, status };
  }

  const api: Chainer = {
    loadHead(topic, partition) {
      const st = state(topic, partition);
      return serialized(st, async () => {
        await load(st);
        return st.cursor;
      });
    },
    next(topic, partition, offset, content) {
      const st = state(topic, partition);
      const o = BigInt(offset);
      return serialized(st, () => {
        checkContent(st, o, content);
        return step(st, o, sourceOfContent(content));
      });
    },
    async chainRows(rows) {
      const out: ChainLink[] = new Array(rows.length);
      const groups = new Map<string, { st: PartitionState; idx: number[] }>();
      // Consecutive rows mostly share a partition: the map is only consulted when it changes.
      let g: { st: PartitionState; idx: number[] } | undefined;
      for (let i = 0; i < rows.length; i++) {
        const r = rows[i] as EventRow;
        if (!g || g.st.topic !== r.kafka_topic || g.st.partition !== r.kafka_partition) {
          const k = partitionKey(r.kafka_topic, r.kafka_partition);
          g = groups.get(k);
          if (!g) {
            g = { st: state(r.kafka_topic, r.kafka_partition), idx: [] };
            groups.set(k, g);
          }
        }
        g.idx.push(i);
      }
      await Promise.all(
        [...groups.values()].map(({ st, idx }) =>
          serialized(st, async () => {
            let order = idx.map((i) => ({ i, o: BigInt((rows[i] as EventRow).kafka_offset) }));
            let ascending = true;
            for (let k = 1; k < order.length && ascending; k++) ascending = (order[k - 1] as { o: bigint }).o < (order[k] as { o: bigint }).o;
            if (!ascending) order = order.sort((a, b) => (a.o < b.o ? -1 : a.o > b.o ? 1 : a.i - b.i));
            let sinceYield = 0;
            for (const { i, o } of order) {
              // Hashing is synchronous: let timers and sockets (Kafka heartbeats) run between slices.
              if (++sinceYield === YIELD_EVERY) {
                sinceYield = 0;
                await new Promise<void>((resolve) => setImmediate(resolve));
              }
              const row = rows[i] as EventRow;
              const content = sourceOfRow(row);
              const link = fast(st, o, content) ?? (await step(st, o, content));
              row.chain_seq = link.chain_seq.toString();
              row.prev_hash = link.prev_hash;
              row.hash = link.hash;
              out[i] = link;
            }
          }),
        ),
      );
      return out;
    },
    rewind(topic, partition) {
      const st = states.find(topic, partition);
      if (st) st.reposition = true;
    },
    release(topic, partition) {
      states.delete(topic, partition);
    },
    head(topic, partition) {
      return states.find(topic, partition)?.cursor;
    },
  };
  return api;
}
