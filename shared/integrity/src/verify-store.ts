import type { KeyObject } from 'node:crypto';
import { type ClickHouse, layoutFor, type SqlFragment, sql, timeRange } from '@auditstream/clickhouse';
import { AuditstreamError } from '@auditstream/core';
import type { Kafka } from 'kafkajs';
import type { Checkpoint } from './checkpoint.js';
import { conflictFindings, findEventIdConflicts } from './conflicts.js';
import { readCheckpointsTopic, readCommittedOffsets, readHighWatermarks, type TopicCheckpoints } from './kafka.js';
import {
  type ChainAnchor,
  checkCheckpoints,
  type EntryFormatCounts,
  type Finding,
  type PartitionReport,
  PartitionVerifier,
  sumFormatCounts,
} from './partition-verifier.js';
import { partitionKey } from './partitions.js';
import { checkRetentionRuns, type RetentionRunCheck } from './retention-runs.js';
import { listChainPartitions, loadTableCheckpoints, offsetsInRange, type PartitionKey, streamChainRows, streamDlqOffsets, uniquePartitions } from './store.js';

export interface VerifyProgress {
  topic: string;
  partition: number;
  /** Rows read in this partition so far. */
  rows: number;
  /** Rows read in all partitions so far. */
  total_rows: number;
  elapsed_ms: number;
  events_per_second: number;
  done: boolean;
}

export interface VerifyStoreOptions {
  ch: ClickHouse;
  /** Trusted public keys by key id (several after rotation). */
  publicKeys: ReadonlyMap<string, KeyObject>;
  /** With Kafka: the checkpoints topic is read, and the events topic's high watermarks and ingest's committed offsets are checked. */
  kafka?: Kafka;
  /** Default `audit.checkpoints`. */
  checkpointsTopic?: string;
  /** Ingest's consumer group (its committed offsets prove rows existed). Default none. */
  ingestGroupId?: string;
  /** Only this events topic (default: every topic with rows or checkpoints). */
  topic?: string;
  /** Only these Kafka partitions. */
  partitions?: readonly number[];
  /** occurred_at range [from, to). */
  from?: Date;
  to?: Date;
  tenant?: string;
  /**
   * With from/to: verify the whole chains and report only findings in range, instead of the
   * sub-range between the nearest signed checkpoints (the default).
   */
  full?: boolean;
  /** Slack around from/to when picking anchor checkpoints by their signing time. Default 15 min. */
  marginMs?: number;
  allowOffsetGaps?: boolean;
  /**
   * A chain whose oldest entries are gone (truncated) is an error unless a trusted retention run
   * explains them; by default a warning either way (runs older than events_cutoff prove nothing).
   */
  requireRetentionEvidence?: boolean;
  /** Findings listed per partition (more are counted). Default 1000. */
  maxFindings?: number;
  onProgress?: (p: VerifyProgress) => void;
  /** Partitions verified at once (the server streams one while the client hashes another); more helps only with spare cores on both sides. Default 1. */
  concurrency?: number;
  /** Minimum time between progress calls. Default 1000 ms. */
  progressEveryMs?: number;
  signal?: AbortSignal;
}

export interface VerifiedPartition extends PartitionReport {
  topic: string;
  /** The verified offset span: whole chain unless anchored on checkpoints. */
  span: { from_offset?: string; to_offset?: string; anchored_on_checkpoint?: string; ends_at_checkpoint?: string };
  checkpoints_in_table: number;
  checkpoints_in_topic: number | null;
  high_watermark?: string;
  committed_offset?: string;
}

export interface VerifyReport {
  /** True when no error finding was reported. */
  ok: boolean;
  started_at: string;
  duration_ms: number;
  rows: number;
  entries: number;
  /** Entries whose row matches its hash, by entry format (docs/integrity.md "Entry formats"). */
  entry_formats: EntryFormatCounts;
  duplicates: number;
  /** Event ids carried by messages with different content (each such message is an event_id_conflict warning). */
  event_id_conflicts: number;
  events_per_second: number;
  scope: {
    database: string;
    topic?: string;
    partitions?: number[];
    from?: string;
    to?: string;
    tenant?: string;
    mode: 'full' | 'anchored';
    margin_ms?: number;
  };
  sources: { checkpoints_topic: string | null; checkpoints_topic_messages?: number; checkpoints_topic_unreadable?: number; ingest_group?: string };
  partitions: VerifiedPartition[];
  errors: number;
  warnings: number;
  /** Every finding (errors and warnings), ordered by topic, partition, offset. */
  findings: Finding[];
  /** The first broken link: the first error in that order. */
  first_error?: Finding;
  /** What this run could not check, in words. */
  notes: string[];
}

const ROW_LEVEL = new Set(['modified', 'inserted', 'reordered', 'chain_restarted', 'dlq_conflict', 'event_id_conflict']);

/** Orders findings by topic, partition, then offset (numerically). */
export function sortFindings(findings: Finding[]): Finding[] {
  return findings.sort((a, b) => {
    if ((a.topic ?? '') !== (b.topic ?? '')) return (a.topic ?? '') < (b.topic ?? '') ? -1 : 1;
    if (a.partition !== b.partition) return a.partition - b.partition;
    const ao = a.offset === undefined ? -1n : BigInt(a.offset);
    const bo = b.offset === undefined ? -1n : BigInt(b.offset);
    return ao < bo ? -1 : ao > bo ? 1 : 0;
  });
}

/**
 * Recomputes every partition's hash chain from ClickHouse and checks it against the signed
 * checkpoints (table and Kafka topic) and Kafka's own offsets. Rows are streamed per partition
 * in kafka_offset order (the server sorts; the client holds one offset of look-ahead), so memory
 * does not grow with the row count; checkpoints of one partition are held in memory.
 *
 * Partial verification. The chain is per Kafka partition, not per tenant or per time range:
 * - `tenant`: the partitions are verified as they are (other tenants' rows are links of the same
 *   chains); row findings are reported for the tenant's rows only, structural findings
 *   (deletions, gaps, checkpoints) for everyone, since a deleted row's tenant is unknowable.
 * - `from`/`to` (default, "anchored"): per partition, the span from the last valid checkpoint
 *   signed before `from - margin` (and below the first row in range) to the first signed after
 *   `to + margin` (and at or above the last row in range) is verified. The signed checkpoints at
 *   both ends prove the span is exactly what was ingested; rows in range that were ingested
 *   more than `margin` outside it (producer clock skew, a long outage) need `full`.
 * - `full`: whole chains are verified; row findings are reported in range only.
 */
export async function verifyStore(o: VerifyStoreOptions): Promise<VerifyReport> {
  const started = Date.now();
  const ch = o.ch;
  const caps = await ch.capabilities();
  const layout = layoutFor(caps);
  const notes: string[] = [];
  if (o.publicKeys.size === 0) throw new AuditstreamError('USAGE', 'no public key: pass --public-key (or integrity.public_key_files)', { field: 'public_key' });
  const ranged = o.from !== undefined || o.to !== undefined;
  const mode: 'full' | 'anchored' = ranged && !o.full ? 'anchored' : 'full';
  const marginMs = o.marginMs ?? 15 * 60_000;
  const cpTopic = o.checkpointsTopic ?? 'audit.checkpoints';

  let topicCps: TopicCheckpoints | undefined;
  if (o.kafka) {
    topicCps = await readCheckpointsTopic(o.kafka, cpTopic);
    if (!topicCps) notes.push(`the checkpoints topic ${cpTopic} does not exist: checkpoints were checked against the table only`);
  } else
    notes.push('Kafka was not consulted: checkpoints were checked against the table only, and rows deleted after the last checkpoint cannot be proven missing');

  let keys = await listChainPartitions(ch);
  if (topicCps) {
    for (const list of topicCps.byPartition.values()) {
      const c = list[0];
      if (c) keys.push({ topic: c.topic, partition: c.partition });
    }
    keys = uniquePartitions(keys);
  }
  if (o.topic !== undefined) keys = keys.filter((k) => k.topic === o.topic);
  if (o.partitions) keys = keys.filter((k) => o.partitions?.includes(k.partition));

  const fromUs = o.from ? BigInt(o.from.getTime()) * 1000n : undefined;
  const toUs = o.to ? BigInt(o.to.getTime()) * 1000n : undefined;
  const inScope = (f: Finding): boolean => {
    if (!ROW_LEVEL.has(f.kind)) return true;
    if (o.tenant !== undefined && f.tenant_id !== o.tenant) return false;
    if (ranged && f.occurred_at !== undefined) {
      const us = BigInt(Date.parse(`${f.occurred_at.slice(0, 19)}Z`)) * 1000n + BigInt(f.occurred_at.slice(20, 26) || '0');
      if (fromUs !== undefined && us < fromUs) return false;
      if (toUs !== undefined && us >= toUs) return false;
    }
    return true;
  };

  const committedByTopic = new Map<string, Map<number, bigint>>();
  if (o.kafka && o.ingestGroupId) {
    for (const t of new Set([...keys.map((k) => k.topic), ...(o.topic !== undefined ? [o.topic] : [])])) {
      try {
        const committed = await readCommittedOffsets(o.kafka, o.ingestGroupId, t);
        committedByTopic.set(t, committed);
        // A partition ingest committed offsets on had messages: verified even when nothing else of it is left.
        for (const [partition, offset] of committed) if (offset > 0n && (!o.partitions || o.partitions.includes(partition))) keys.push({ topic: t, partition });
      } catch (err) {
        notes.push(`could not read the committed offsets of group ${o.ingestGroupId} on ${t}: ${(err as Error).message}`);
      }
    }
    keys = uniquePartitions(keys);
  }

  // Looked up once, and only when a partition turns out to have no stored row or a truncated chain.
  let runsCheck: Promise<RetentionRunCheck> | undefined;
  const retentionRuns = () => {
    runsCheck ??= checkRetentionRuns({ ch, publicKeys: o.publicKeys, ...(o.signal ? { signal: o.signal } : {}) });
    return runsCheck;
  };

  const partitions: VerifiedPartition[] = [];
  const findings: Finding[] = [];
  let totalRows = 0;
  let lastProgress = 0;
  const progressEvery = o.progressEveryMs ?? 1000;
  const progress = (key: PartitionKey, rows: number, done: boolean) => {
    const now = Date.now();
    if (!o.onProgress || (!done && now - lastProgress < progressEvery)) return;
    lastProgress = now;
    const elapsed = now - started;
    o.onProgress({
      topic: key.topic,
      partition: key.partition,
      rows,
      total_rows: totalRows,
      elapsed_ms: elapsed,
      events_per_second: elapsed > 0 ? Math.round((totalRows * 1000) / elapsed) : 0,
      done,
    });
  };

  // A few partitions at a time: the server sorts and sends one while the client hashes another.
  const queue = [...keys];
  const workers = Array.from({ length: Math.max(1, Math.min(o.concurrency ?? 1, queue.length)) }, async () => {
    for (let key = queue.shift(); key; key = queue.shift()) await verifyOne(key);
  });
  await Promise.all(workers);
  partitions.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));

  // Messages reusing an event_id with other content: all stored and chained (so the chains above
  // are whole); named here, for the verified partitions and in scope.
  const verified = new Set(keys.map((k) => `${k.topic}\u0000${k.partition}`));
  const conflicts = await findEventIdConflicts(ch, { ...(o.tenant !== undefined ? { tenant: o.tenant } : {}), limit: o.maxFindings ?? 1000 });
  findings.push(...conflictFindings(conflicts).filter((f) => verified.has(`${f.topic}\u0000${f.partition}`) && inScope(f)));

  async function verifyOne(key: PartitionKey): Promise<void> {
    if (o.signal?.aborted) throw new AuditstreamError('ABORTED', 'verification was interrupted', { field: 'signal' });
    const table = await loadTableCheckpoints(ch, key.topic, key.partition);
    const fromTopic = topicCps ? (topicCps.byPartition.get(partitionKey(key.topic, key.partition)) ?? []) : undefined;
    const cpCheck = checkCheckpoints(table, fromTopic, o.publicKeys, key);
    findings.push(...cpCheck.findings);

    // The span to verify.
    let start: ChainAnchor | undefined;
    let startCp: Checkpoint | undefined;
    let endCp: Checkpoint | undefined;
    if (mode === 'anchored') {
      const conds: SqlFragment[] = [timeRange(layout, o.from ?? new Date(0), o.to ?? new Date(4_294_967_295_000))];
      if (o.tenant !== undefined) conds.push(sql`tenant_id = ${o.tenant}`);
      const inRange = await offsetsInRange(
        ch,
        key,
        conds.length === 1 ? (conds[0] as SqlFragment) : sql`${conds[0] as SqlFragment} AND ${conds[1] as SqlFragment}`,
      );
      const fromMs = o.from ? o.from.getTime() - marginMs : undefined;
      const toMs = o.to ? o.to.getTime() + marginMs : undefined;
      if (fromMs !== undefined)
        for (const c of cpCheck.valid) {
          if (c.created_at_s * 1000 >= fromMs) break;
          if (inRange.min !== undefined && BigInt(c.last_offset) >= inRange.min) break;
          startCp = c;
        }
      if (toMs !== undefined)
        endCp = cpCheck.valid.find(
          (c) => c.created_at_s * 1000 > toMs && (inRange.max === undefined || BigInt(c.last_offset) >= inRange.max) && (!startCp || c !== startCp),
        );
      if (startCp) start = { offset: BigInt(startCp.last_offset), chain_seq: BigInt(startCp.chain_seq), hash: startCp.chain_head };
    }
    const bounds: { from?: bigint; to?: bigint } = {};
    if (start) bounds.from = start.offset + 1n;
    if (endCp) bounds.to = BigInt(endCp.last_offset);
    const cpsInSpan = cpCheck.valid.filter(
      (c) => (bounds.from === undefined || BigInt(c.last_offset) >= bounds.from) && (bounds.to === undefined || BigInt(c.last_offset) <= bounds.to),
    );
    const toEnd = bounds.to === undefined;
    const committed = toEnd ? committedByTopic.get(key.topic)?.get(key.partition) : undefined;

    const verifier = new PartitionVerifier({
      topic: key.topic,
      partition: key.partition,
      checkpoints: cpsInSpan,
      ...(start ? { start } : {}),
      ...(committed !== undefined ? { committedOffset: committed } : {}),
      ...(o.allowOffsetGaps ? { allowOffsetGaps: true } : {}),
      ...(o.requireRetentionEvidence ? { requireRetentionEvidence: true } : {}),
      maxFindings: o.maxFindings ?? 1000,
      inScope,
    });
    let hw: bigint | undefined;
    // The high watermark is read once the row query runs: every row in its snapshot was in
    // Kafka before, so any offset at or beyond it was never assigned.
    const onStarted = async () => {
      if (!o.kafka || !toEnd) return;
      const marks = await readHighWatermarks(o.kafka, key.topic).catch(() => undefined);
      hw = marks?.get(key.partition);
      if (hw !== undefined) verifier.setHighWatermark(hw);
    };
    const dlq = streamDlqOffsets(ch, key, bounds)[Symbol.asyncIterator]();
    let nextDlq = await dlq.next();
    let n = 0;
    for await (const batch of streamChainRows(ch, key, bounds, onStarted)) {
      for (const row of batch) {
        if (!nextDlq.done) {
          const offset = BigInt(row.fields.kafka_offset);
          while (!nextDlq.done && nextDlq.value < offset) {
            verifier.pushDlq(nextDlq.value);
            nextDlq = await dlq.next();
          }
        }
        verifier.push(row);
      }
      n += batch.length;
      totalRows += batch.length;
      progress(key, n, false);
      if (o.signal?.aborted) throw new AuditstreamError('ABORTED', 'verification was interrupted', { field: 'signal' });
    }
    while (!nextDlq.done) {
      verifier.pushDlq(nextDlq.value);
      nextDlq = await dlq.next();
    }
    // Nothing stored where checkpoints signed entries, or the oldest entries gone: retention may explain it (docs/integrity.md).
    verifier.end();
    if ((n === 0 && cpsInSpan.length > 0) || verifier.truncated) verifier.setRetentionRuns((await retentionRuns()).trusted);
    const rep = verifier.finish();
    progress(key, n, true);
    findings.push(...rep.findings);
    partitions.push({
      ...rep,
      topic: key.topic,
      span: {
        ...(bounds.from !== undefined ? { from_offset: bounds.from.toString() } : {}),
        ...(bounds.to !== undefined ? { to_offset: bounds.to.toString() } : {}),
        ...(startCp ? { anchored_on_checkpoint: startCp.last_offset } : {}),
        ...(endCp ? { ends_at_checkpoint: endCp.last_offset } : {}),
      },
      checkpoints_in_table: cpCheck.table,
      checkpoints_in_topic: cpCheck.topic,
      ...(hw !== undefined ? { high_watermark: hw.toString() } : {}),
      ...(committed !== undefined ? { committed_offset: committed.toString() } : {}),
    });
  }

  for (const r of runsCheck ? (await runsCheck).rejected : [])
    notes.push(`retention run ${r.event_id} was not taken as evidence that rows expired: ${r.reason}`);
  sortFindings(findings);
  const errors = findings.filter((f) => f.severity === 'error').length;
  const duration = Date.now() - started;
  const entries = partitions.reduce((a, p) => a + p.entries, 0);
  const first = findings.find((f) => f.severity === 'error');
  if (keys.length === 0) notes.push('no chain found: no rows and no checkpoints in scope');
  return {
    ok: errors === 0,
    started_at: new Date(started).toISOString(),
    duration_ms: duration,
    rows: totalRows,
    entries,
    entry_formats: sumFormatCounts(partitions.map((p) => p.entry_formats)),
    duplicates: partitions.reduce((a, p) => a + p.duplicates, 0),
    event_id_conflicts: new Set(findings.filter((f) => f.kind === 'event_id_conflict').map((f) => f.event_id)).size,
    events_per_second: duration > 0 ? Math.round((totalRows * 1000) / duration) : 0,
    scope: {
      database: ch.database,
      ...(o.topic !== undefined ? { topic: o.topic } : {}),
      ...(o.partitions ? { partitions: [...o.partitions] } : {}),
      ...(o.from ? { from: o.from.toISOString() } : {}),
      ...(o.to ? { to: o.to.toISOString() } : {}),
      ...(o.tenant !== undefined ? { tenant: o.tenant } : {}),
      mode,
      ...(mode === 'anchored' ? { margin_ms: marginMs } : {}),
    },
    sources: {
      checkpoints_topic: topicCps ? cpTopic : null,
      ...(topicCps ? { checkpoints_topic_messages: topicCps.messages, checkpoints_topic_unreadable: topicCps.unreadable } : {}),
      ...(o.ingestGroupId && o.kafka ? { ingest_group: o.ingestGroupId } : {}),
    },
    partitions,
    errors,
    warnings: findings.length - errors,
    findings,
    ...(first ? { first_error: first } : {}),
    notes,
  };
}
