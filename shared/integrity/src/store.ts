import {
  type ClickHouse,
  joinSql,
  type Layout,
  layoutFor,
  p,
  RETENTION_RECORD,
  render,
  type SqlFragment,
  sql,
  table,
  timeRange,
  unsafeRaw,
} from '@auditstream/clickhouse';
import { AuditstreamError } from '@auditstream/core';
import type { ChainEntryFields } from './chain.js';
import type { Checkpoint } from './checkpoint.js';
import type { StoredChainRow } from './partition-verifier.js';
import { readLeafEntries } from './tree-store.js';

/**
 * Everything the integrity module reads from or writes to ClickHouse, in one place. Every
 * statement works on 18.16 (no query parameters: values are inlined by the storage module's
 * escaping) and on modern servers (parameters).
 */

/** The chain columns of one stored row. */
export interface StoredLink {
  offset: bigint;
  chain_seq: bigint;
  prev_hash: string;
  hash: string;
  event_id: string;
}

/** What the chainer reads. An interface so unit tests can give it a fake. */
export interface ChainStore {
  /** The rows at the highest stored offset of the partition (one, unless copies differ). */
  head(topic: string, partition: number): Promise<StoredLink[]>;
  /** The rows at the highest stored offset below `offset`. */
  before(topic: string, partition: number, offset: bigint): Promise<StoredLink[]>;
  /** Rows with offsets in [from, to], ascending; identical copies once. */
  range(topic: string, partition: number, from: bigint, to: bigint): Promise<StoredLink[]>;
  /** The stored checkpoint with the highest last_offset (below `below` when given). */
  lastCheckpoint(topic: string, partition: number, below?: bigint): Promise<Checkpoint | undefined>;
}

/** What the checkpointer writes and reads. */
export interface CheckpointStore {
  lastCheckpoint(topic: string, partition: number): Promise<Checkpoint | undefined>;
  insertCheckpoint(checkpoint: Checkpoint): Promise<void>;
  /** The raw 32-byte entry hashes of chain_seq from..to (tree-store.ts); rejects when one is missing. */
  leaves(topic: string, partition: number, from: bigint, to: bigint): Promise<Buffer[]>;
}

interface LinkRow {
  o: string;
  cs: string;
  prev_hash: string;
  hash: string;
  eid: string;
}

interface CheckpointRow {
  topic: string;
  partition: number | string;
  lo: string;
  cs: string;
  chain_head: string;
  cat: number | string;
  prev_checkpoint_hash: string;
  key_id: string;
  signature: string;
  ts: string;
  tree_root: string;
  tree_frontier: string;
}

// Aliases never reuse a column name: ClickHouse resolves aliases in WHERE and ORDER BY too.
const LINK_COLUMNS = sql`toString(kafka_offset) AS o, toString(chain_seq) AS cs, prev_hash, hash, toString(event_id) AS eid`;
const CHECKPOINT_COLUMNS = sql`topic, \`partition\`, toString(last_offset) AS lo, toString(chain_seq) AS cs, chain_head,
  toUnixTimestamp(created_at) AS cat, prev_checkpoint_hash, key_id, signature,
  toString(tree_size) AS ts, tree_root, tree_frontier`;

function toLink(r: LinkRow): StoredLink {
  return { offset: BigInt(r.o), chain_seq: BigInt(r.cs || '0'), prev_hash: r.prev_hash, hash: r.hash, event_id: r.eid.toLowerCase() };
}

export function checkpointFromRow(r: CheckpointRow): Checkpoint {
  return {
    topic: r.topic,
    partition: Number(r.partition),
    last_offset: BigInt(r.lo).toString(),
    chain_seq: BigInt(r.cs).toString(),
    chain_head: r.chain_head,
    created_at_s: Number(r.cat),
    prev_checkpoint_hash: r.prev_checkpoint_hash,
    key_id: r.key_id,
    signature: r.signature,
    // tree_size 0 = a version 1 checkpoint (no tree head), including every one signed before migration 008.
    ...(r.ts && r.ts !== '0' ? { tree_size: BigInt(r.ts).toString(), tree_root: r.tree_root, tree_frontier: r.tree_frontier } : {}),
  };
}

export function checkpointToRow(c: Checkpoint): Record<string, unknown> {
  return {
    topic: c.topic,
    partition: c.partition,
    last_offset: c.last_offset,
    chain_seq: c.chain_seq,
    chain_head: c.chain_head,
    created_at: c.created_at_s,
    prev_checkpoint_hash: c.prev_checkpoint_hash,
    key_id: c.key_id,
    signature: c.signature,
    tree_size: c.tree_size ?? '0',
    tree_root: c.tree_root ?? '',
    tree_frontier: c.tree_frontier ?? '',
  };
}

const CHECKPOINT_INSERT_COLUMNS = [
  'topic',
  'partition',
  'last_offset',
  'chain_seq',
  'chain_head',
  'created_at',
  'prev_checkpoint_hash',
  'key_id',
  'signature',
  'tree_size',
  'tree_root',
  'tree_frontier',
];

/** The ClickHouse implementation of ChainStore and CheckpointStore (the ingest account may read both). */
export function clickhouseIntegrityStore(ch: ClickHouse): ChainStore & CheckpointStore {
  const events = () => table(ch.database, 'events');
  const checkpoints = () => table(ch.database, 'checkpoints');
  const where = (topic: string, partition: number) => sql`kafka_topic = ${topic} AND kafka_partition = ${partition}`;
  const atMax = async (topic: string, partition: number, below: bigint | undefined, op: string) => {
    const bound = below === undefined ? sql`` : sql` AND kafka_offset < ${below}`;
    const rows = await ch.queryRows<LinkRow>(
      sql`SELECT ${LINK_COLUMNS} FROM ${events()}
WHERE ${where(topic, partition)}${bound}
  AND kafka_offset = (SELECT max(kafka_offset) FROM ${events()} WHERE ${where(topic, partition)}${bound})
LIMIT 1 BY prev_hash, hash, eid`,
      { operation: op },
    );
    return rows.map(toLink);
  };
  return {
    head: (topic, partition) => atMax(topic, partition, undefined, 'integrity_chain_head'),
    before: (topic, partition, offset) => atMax(topic, partition, offset, 'integrity_chain_before'),
    async range(topic, partition, from, to) {
      const rows = await ch.queryRows<LinkRow>(
        sql`SELECT ${LINK_COLUMNS} FROM ${events()}
WHERE ${where(topic, partition)} AND kafka_offset >= ${from} AND kafka_offset <= ${to}
ORDER BY kafka_offset
LIMIT 1 BY kafka_offset, prev_hash, hash, eid`,
        { operation: 'integrity_chain_range' },
      );
      return rows.map(toLink);
    },
    async lastCheckpoint(topic: string, partition: number, below?: bigint) {
      const bound = below === undefined ? sql`` : sql` AND last_offset < ${below}`;
      const rows = await ch.queryRows<CheckpointRow>(
        sql`SELECT ${CHECKPOINT_COLUMNS} FROM ${checkpoints()}
WHERE topic = ${topic} AND \`partition\` = ${partition}${bound}
ORDER BY last_offset DESC, created_at DESC LIMIT 1`,
        { operation: 'integrity_last_checkpoint' },
      );
      return rows[0] ? checkpointFromRow(rows[0]) : undefined;
    },
    leaves: (topic, partition, from, to) => readLeafEntries(ch, topic, partition, from, to),
    async insertCheckpoint(c) {
      await ch.insertJson('checkpoints', [checkpointToRow(c)], { operation: 'integrity_insert_checkpoint', columns: CHECKPOINT_INSERT_COLUMNS });
    },
  };
}

/**
 * The first `n` checkpoints at or above an offset, lowest first: what a single-event check needs,
 * without reading (and checking) every checkpoint of the partition.
 */
export async function checkpointsFrom(ch: ClickHouse, topic: string, partition: number, offset: bigint, n: number): Promise<Checkpoint[]> {
  const limit = unsafeRaw(String(Math.max(1, Math.min(1000, Math.floor(n)))));
  const rows = await ch.queryRows<CheckpointRow>(
    sql`SELECT ${CHECKPOINT_COLUMNS} FROM ${table(ch.database, 'checkpoints')}
WHERE topic = ${topic} AND \`partition\` = ${partition} AND last_offset >= ${offset}
ORDER BY last_offset ASC, created_at ASC LIMIT ${limit}`,
    { operation: 'integrity_checkpoints_from' },
  );
  return rows.map(checkpointFromRow);
}

/** Every checkpoint of one partition in the table, by last_offset (all copies: the verifier judges them). */
export async function loadTableCheckpoints(ch: ClickHouse, topic: string, partition: number): Promise<Checkpoint[]> {
  const rows = await ch.queryRows<CheckpointRow>(
    sql`SELECT ${CHECKPOINT_COLUMNS} FROM ${table(ch.database, 'checkpoints')}
WHERE topic = ${topic} AND \`partition\` = ${partition}
ORDER BY last_offset, created_at, signature
LIMIT 1 BY last_offset, signature, chain_head, chain_seq, prev_checkpoint_hash, key_id, created_at`,
    { operation: 'integrity_load_checkpoints', settings: { max_execution_time: 0 } },
  );
  return rows.map(checkpointFromRow);
}

export interface PartitionKey {
  topic: string;
  partition: number;
}

/** Where an event sits in the sorting key: its tenant and occurred_at (µs), as stored. */
export interface EventKey {
  tenant_id: string;
  occurred_at_us: bigint;
}

/** Every (topic, partition) that has rows, checkpoints or dead letters: a partition whose rows were all deleted still has the others (verify adds those with a committed offset). */
export async function listChainPartitions(ch: ClickHouse): Promise<PartitionKey[]> {
  const fromEvents = await ch.queryRows<{ topic: string; partition: number }>(
    sql`SELECT DISTINCT kafka_topic AS topic, kafka_partition AS \`partition\` FROM ${table(ch.database, 'events')}`,
    { operation: 'integrity_partitions', settings: { max_execution_time: 0 } },
  );
  const fromCheckpoints = await ch.queryRows<{ topic: string; partition: number }>(
    sql`SELECT DISTINCT topic, \`partition\` FROM ${table(ch.database, 'checkpoints')}`,
    { operation: 'integrity_partitions' },
  );
  const fromDeadLetters = await ch.queryRows<{ topic: string; partition: number }>(
    sql`SELECT DISTINCT topic, \`partition\` FROM ${table(ch.database, 'dlq_decisions')}`,
    { operation: 'integrity_partitions' },
  );
  return uniquePartitions([...fromEvents, ...fromCheckpoints, ...fromDeadLetters].map((r) => ({ topic: r.topic, partition: Number(r.partition) })));
}

export function uniquePartitions(keys: readonly PartitionKey[]): PartitionKey[] {
  const seen = new Map<string, PartitionKey>();
  for (const k of keys) seen.set(`${k.topic}\u0000${k.partition}`, k);
  return [...seen.values()].sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
}

/** min/max offset and count of the rows in a time range (and tenant), for anchoring a partial verification. */
export async function offsetsInRange(ch: ClickHouse, key: PartitionKey, range: SqlFragment): Promise<{ count: number; min?: bigint; max?: bigint }> {
  const rows = await ch.queryRows<{ n: string | number; lo: string; hi: string }>(
    sql`SELECT count() AS n, toString(min(kafka_offset)) AS lo, toString(max(kafka_offset)) AS hi FROM ${table(ch.database, 'events')}
WHERE kafka_topic = ${key.topic} AND kafka_partition = ${key.partition} AND ${range}`,
    { operation: 'integrity_range_offsets', settings: { max_execution_time: 0 } },
  );
  const r = rows[0];
  const n = Number(r?.n ?? 0);
  if (!r || n === 0) return { count: 0 };
  return { count: n, min: BigInt(r.lo), max: BigInt(r.hi) };
}

/** occurred_at as decimal µs since the epoch, the same on both layouts. */
function occurredMicros(layout: Layout): string {
  return layout === 'modern' ? 'toString(toUnixTimestamp64Micro(occurred_at))' : 'toString(toUInt64(toUnixTimestamp(occurred_at)) * 1000000 + occurred_at_us)';
}

/** One retention run's record as stored; `variants` > 1 when rows at its place disagree on the chain or the claim. */
export interface RetentionRecord {
  topic: string;
  partition: number;
  offset: bigint;
  event_id: string;
  hash: string;
  occurred_at_us: bigint;
  cutoff: string;
  variants: number;
}

/** The stored records of successful retention runs that name an events cut-off (shared/clickhouse retention.ts). */
export async function loadRetentionRecords(ch: ClickHouse): Promise<RetentionRecord[]> {
  const layout = layoutFor(await ch.capabilities());
  const attr = (name: string) => (layout === 'modern' ? sql`attributes[${name}]` : sql`attr_values[indexOf(attr_keys, ${name})]`);
  const cut = attr(RETENTION_RECORD.cutoffAttribute);
  const rows = await ch.queryRows<{ t: string; kp: number | string; o: string; eid: string; h: string; us: string; cut: string; n: number | string }>(
    sql`SELECT toString(kafka_topic) AS t, kafka_partition AS kp, toString(kafka_offset) AS o, lower(toString(event_id)) AS eid,
  any(hash) AS h, any(${unsafeRaw(occurredMicros(layout))}) AS us, any(${cut}) AS cut, uniqExact(hash, ${unsafeRaw(occurredMicros(layout))}, ${cut}) AS n
FROM ${table(ch.database, 'events')}
WHERE action = ${RETENTION_RECORD.action} AND outcome = 'success' AND ${attr('dry_run')} = 'false' AND ${cut} != ''
GROUP BY kafka_topic, kafka_partition, kafka_offset, event_id`,
    { operation: 'integrity_retention_runs', settings: { max_execution_time: 0 } },
  );
  return rows.map((r) => ({
    topic: r.t,
    partition: Number(r.kp),
    offset: BigInt(r.o),
    event_id: r.eid,
    hash: r.h,
    occurred_at_us: BigInt(r.us),
    cutoff: r.cut,
    variants: Number(r.n),
  }));
}

/** Stored events that occurred and were received before `cutoff`: none once a run with that cut-off removed them (later arrivals aside). */
export async function countEventsBefore(ch: ClickHouse, cutoff: Date): Promise<number> {
  const layout = layoutFor(await ch.capabilities());
  const rows = await ch.queryRows<{ n: number | string }>(
    sql`SELECT count() AS n FROM ${table(ch.database, 'events')}
WHERE ${timeRange(layout, new Date(0), cutoff)} AND received_at < ${p.dateTime(new Date(Math.floor(cutoff.getTime() / 1000) * 1000))}`,
    { operation: 'integrity_retention_check', settings: { max_execution_time: 0 } },
  );
  return Number(rows[0]?.n ?? 0);
}

/** Settings for the long streaming reads of `auditstream verify`. */
const STREAM_SETTINGS = {
  // A full verification reads whole partitions: no time limit (Ctrl-C stops it).
  max_execution_time: 0,
  // ORDER BY kafka_offset sorts the partition on the server; spill to disk beyond this.
  max_bytes_before_external_sort: '536870912',
  // Uncompressed: on loopback or a LAN gzip costs both ends more CPU than it saves.
  enable_http_compression: 0,
} as const;

/**
 * The canonical chain fields of every stored row, computed from the stored columns the same way
 * on both layouts: occurred_at as µs (legacy: seconds * 10^6 + occurred_at_us), received_at as
 * whole seconds, attributes as a map (legacy: the two aligned arrays). Short aliases never shadow
 * a column (ClickHouse resolves aliases in ORDER BY too).
 */
function chainSelect(layout: Layout): string {
  const occurred = occurredMicros(layout);
  const attrs = layout === 'modern' ? 'attributes AS c22' : 'attr_keys AS c22, attr_values AS c23';
  return [
    'tenant_id AS c0',
    'lower(toString(event_id)) AS c1',
    `${occurred} AS c2`,
    'toString(action) AS c3',
    'toString(category) AS c4',
    'toString(outcome) AS c5',
    'reason AS c6',
    'actor_id AS c7',
    'toString(actor_type) AS c8',
    'actor_name AS c9',
    'actor_session_id AS c10',
    'actor_ip AS c11',
    'actor_user_agent AS c12',
    'toString(service) AS c13',
    'host AS c14',
    'toString(region) AS c15',
    'toString(resource_type) AS c16',
    'resource_id AS c17',
    'resource_name AS c18',
    'request_id AS c19',
    'trace_id AS c20',
    'toString(severity) AS c21',
    attrs,
    'toUnixTimestamp(received_at) AS c24',
    'toString(kafka_topic) AS c25',
    'kafka_partition AS c26',
    'toString(kafka_offset) AS c27',
    'toString(geo_country) AS c28',
    'geo_city AS c29',
    'toString(ua_browser) AS c30',
    'toString(ua_os) AS c31',
    'toString(ua_device) AS c32',
    'toString(chain_seq) AS c33',
    'prev_hash AS c34',
    'hash AS c35',
    'toString(producer_id) AS c36',
    'toString(producer_seq) AS c37',
  ].join(', ');
}

type ChainRowJson = Record<string, unknown>;

function chainRowFrom(r: ChainRowJson, legacy: boolean): StoredChainRow {
  let attributes: Record<string, string>;
  let malformed = false;
  if (legacy) {
    const keys = r.c22 as string[];
    const values = r.c23 as string[];
    const order = keys.map((k, i) => [k, values[i] ?? ''] as const).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    attributes = {};
    for (const [k, v] of order) {
      // Ingest writes each key once (from a map): a repeated key is a changed row, even if the map it folds to hashes right.
      if (Object.hasOwn(attributes, k)) malformed = true;
      attributes[k] = v;
    }
  } else attributes = (r.c22 as Record<string, string>) ?? {};
  const fields: ChainEntryFields = {
    tenant_id: r.c0 as string,
    event_id: r.c1 as string,
    occurred_at_us: r.c2 as string,
    action: r.c3 as string,
    category: r.c4 as string,
    outcome: r.c5 as string,
    reason: r.c6 as string,
    actor_id: r.c7 as string,
    actor_type: r.c8 as string,
    actor_name: r.c9 as string,
    actor_session_id: r.c10 as string,
    actor_ip: r.c11 as string,
    actor_user_agent: r.c12 as string,
    service: r.c13 as string,
    host: r.c14 as string,
    region: r.c15 as string,
    resource_type: r.c16 as string,
    resource_id: r.c17 as string,
    resource_name: r.c18 as string,
    request_id: r.c19 as string,
    trace_id: r.c20 as string,
    severity: r.c21 as string,
    attributes,
    received_at_s: Number(r.c24),
    kafka_topic: r.c25 as string,
    kafka_partition: Number(r.c26),
    kafka_offset: r.c27 as string,
    geo_country: r.c28 as string,
    geo_city: r.c29 as string,
    ua_browser: r.c30 as string,
    ua_os: r.c31 as string,
    ua_device: r.c32 as string,
    chain_seq: r.c33 as string,
    prev_hash: r.c34 as string,
    producer_id: r.c36 as string,
    producer_seq: r.c37 as string,
  };
  return malformed ? { fields, hash: r.c35 as string, malformed } : { fields, hash: r.c35 as string };
}

/**
 * Streams the chain rows of one partition in [from, to] ordered by kafka_offset (copies of an
 * offset adjacent), in batches as they arrive. Constant memory on the client: the HTTP body is consumed as it arrives,
 * uncompressed (loopback or LAN: gzip cost more CPU than it saved), with back-pressure.
 * `onStarted` runs once the server has begun answering (its snapshot of the table is taken).
 */
export async function* streamChainRows(
  ch: ClickHouse,
  key: PartitionKey,
  bounds: { from?: bigint; to?: bigint; within?: EventKey },
  onStarted?: () => Promise<void>,
): AsyncGenerator<StoredChainRow[]> {
  const caps = await ch.capabilities();
  const layout = layoutFor(caps);
  const conds: SqlFragment[] = [sql`kafka_topic = ${key.topic}`, sql`kafka_partition = ${key.partition}`];
  if (bounds.from !== undefined) conds.push(sql`kafka_offset >= ${bounds.from}`);
  if (bounds.to !== undefined) conds.push(sql`kafka_offset <= ${bounds.to}`);
  // The partition's columns are not a prefix of the sorting key: the event's tenant and time make a read through the index.
  const w = bounds.within;
  if (w) conds.push(sql`tenant_id = ${w.tenant_id}`, timeRange(layout, w.occurred_at_us, w.occurred_at_us + 1n));
  const q = render(
    sql`SELECT ${unsafeRaw(chainSelect(layout))} FROM ${table(ch.database, 'events')} WHERE ${joinSql(conds, ' AND ')} ORDER BY kafka_offset, hash`,
    caps,
  );
  const legacy = layout === 'legacy';
  for await (const batch of streamQuery(ch, q, onStarted)) yield batch.map((r) => chainRowFrom(r, legacy));
}

/**
 * One event's stored chain row at its Kafka offset, read exactly as `auditstream verify` reads it (streamChainRows:
 * every column as stored, e.g. `producer_seq` whatever `producer_id` holds, as UInt64 text), for a proof to show.
 * Of the rows at that offset, the event's one whose hash is `hash` (the copy the caller found), else the event's
 * first; undefined when the event has no row there. `within`, the stored event's tenant and time, makes it a
 * read through the sorting key.
 */
export async function storedChainRow(
  ch: ClickHouse,
  at: PartitionKey & { offset: bigint; event_id: string; hash?: string; within: EventKey },
): Promise<StoredChainRow | undefined> {
  const id = at.event_id.toLowerCase();
  const own: StoredChainRow[] = [];
  for await (const batch of streamChainRows(ch, at, { from: at.offset, to: at.offset, within: at.within }))
    own.push(...batch.filter((r) => r.fields.event_id === id));
  return own.find((r) => r.hash === at.hash) ?? own[0];
}

/** Streams the dead-lettered offsets of one partition in [from, to], ascending, each once. */
export async function* streamDlqOffsets(ch: ClickHouse, key: PartitionKey, bounds: { from?: bigint; to?: bigint }): AsyncGenerator<bigint> {
  const caps = await ch.capabilities();
  const conds: SqlFragment[] = [sql`topic = ${key.topic}`, sql`\`partition\` = ${key.partition}`];
  if (bounds.from !== undefined) conds.push(sql`offset >= ${bounds.from}`);
  if (bounds.to !== undefined) conds.push(sql`offset <= ${bounds.to}`);
  const q = render(
    sql`SELECT toString(offset) AS o FROM ${table(ch.database, 'dlq_decisions')} WHERE ${joinSql(conds, ' AND ')} GROUP BY offset ORDER BY offset`,
    caps,
  );
  for await (const batch of streamQuery(ch, q)) for (const r of batch) yield BigInt(String(r.o));
}

async function* streamQuery(
  ch: ClickHouse,
  q: { query: string; query_params?: Record<string, unknown> },
  onStarted?: () => Promise<void>,
): AsyncGenerator<Record<string, unknown>[]> {
  let rs: Awaited<ReturnType<ClickHouse['client']['query']>>;
  try {
    rs = await ch.client.query({
      query: q.query,
      format: 'JSONEachRow',
      ...(q.query_params ? { query_params: q.query_params } : {}),
      clickhouse_settings: STREAM_SETTINGS as never,
    });
  } catch (cause) {
    throw new AuditstreamError('INTEGRITY_READ_FAILED', `cannot read from ClickHouse: ${(cause as Error).message?.slice(0, 200)}`, {
      cause,
      retriable: true,
    });
  }
  if (onStarted) await onStarted();
  const stream = rs.stream<Record<string, unknown>>();
  try {
    for await (const batch of stream as AsyncIterable<{ json<T>(): T }[]>) {
      yield batch.map((row) => row.json<Record<string, unknown>>());
    }
  } catch (cause) {
    // 18.16 appends an exception raised mid-stream to the body: the JSON parser fails on it.
    throw new AuditstreamError('INTEGRITY_READ_FAILED', `the ClickHouse stream broke off: ${(cause as Error).message?.slice(0, 200)}`, {
      cause,
      retriable: true,
    });
  } finally {
    rs.close();
  }
}
