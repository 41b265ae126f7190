import type { KeyObject } from 'node:crypto';
import { EVENT_TIME_WINDOW, microsToIso } from '@auditstream/schemas';
import { type ChainEntryFields, GENESIS_HASH } from './chain.js';
import { type Checkpoint, checkpointHash, GENESIS_CHECKPOINT_HASH, verifyCheckpoint } from './checkpoint.js';
import { CHAIN_FORMATS, type ChainFormat, DEFAULT_CHAIN_FORMAT, storedEntryHash } from './entry.js';
import { explainRemovedEntries, type RetentionRun, type RetentionVerdict } from './retention-evidence.js';

/** What verification can find, named for the auditor reading the report. */
export type FindingKind =
  | 'modified' // a stored row's content no longer matches its hash, or a row was rewritten with a recomputed hash
  | 'deleted' // chain entries are missing between two stored rows
  | 'inserted' // a row that is not part of the chain (forged), or at an offset Kafka never assigned
  | 'reordered' // rows whose chain order contradicts their Kafka order
  | 'chain_restarted' // a second chain starts (chain_seq 1, genesis prev_hash) in the middle of a partition
  | 'unchained' // rows without chain values (stored with integrity off)
  | 'checkpoint_forged' // a checkpoint signed with a key that is not trusted
  | 'checkpoint_altered' // bad signature, a broken link between checkpoints, or table and topic copies disagree
  | 'checkpoint_mismatch' // a valid checkpoint's chain head is not what is stored at its offset
  | 'missing_after_checkpoint' // a valid checkpoint proves entries beyond the end of the stored chain
  | 'missing_before_commit' // ingest committed offsets (so stored them) that are neither stored nor dead-lettered
  | 'unexplained_gap' // Kafka offsets skipped by the chain that have no dead-letter decision
  | 'truncated' // (warning; error when unexplained with requireRetentionEvidence) the stored chain does not start at chain_seq 1: retention, or the oldest rows deleted
  | 'chain_expired' // (warning) no entry of a signed chain is stored, and a verified retention run's cut-off explains every one
  | 'checkpoint_unpublished' // (warning) a checkpoint in the table never reached the checkpoints topic
  | 'dlq_conflict' // (warning) a dead-letter decision for an offset that has a chain entry
  | 'event_id_conflict'; // (warning) another message with this row's event_id and different content is the one queries show

export type Severity = 'error' | 'warning';

export interface Finding {
  kind: FindingKind;
  severity: Severity;
  topic?: string;
  partition: number;
  /** Kafka offset of the row at fault, or where the broken link is. */
  offset?: string;
  event_id?: string;
  tenant_id?: string;
  /** occurred_at of the row at fault (RFC 3339, µs). */
  occurred_at?: string;
  detail: string;
}

export interface StoredChainRow {
  fields: ChainEntryFields;
  hash: string;
  /** The stored columns cannot be what ingest wrote (legacy attr_keys repeating a key): the row is modified, whatever it hashes to. */
  malformed?: boolean;
}

/** Chain entries by entry format. */
export type EntryFormatCounts = Record<ChainFormat, number>;

/** Counts summed by format (none: all zero). */
export function sumFormatCounts(counts: readonly EntryFormatCounts[]): EntryFormatCounts {
  const sum = Object.fromEntries(CHAIN_FORMATS.map((f) => [f, 0])) as EntryFormatCounts;
  for (const c of counts) for (const f of CHAIN_FORMATS) sum[f] += c[f];
  return sum;
}

export interface PartitionReport {
  topic?: string;
  partition: number;
  /** Rows read, copies included. */
  rows: number;
  /** Re-delivered identical copies (counted in rows, not as entries). */
  duplicates: number;
  /** Chain entries accepted. */
  entries: number;
  /** Of those, the ones whose row matches its hash, by entry format (docs/integrity.md "Entry formats"). */
  entry_formats: EntryFormatCounts;
  first_offset?: string;
  last_offset?: string;
  chain_head?: string;
  chain_seq?: string;
  /** Valid checkpoints in scope, and how many of them were matched against a stored entry. */
  checkpoints: number;
  checkpoints_matched: number;
  findings: Finding[];
  /** Findings beyond maxFindings (counted, not listed). */
  findings_dropped: number;
}

/** Where verification starts when it does not start at the chain's beginning: a signed checkpoint. */
export interface ChainAnchor {
  offset: bigint;
  chain_seq: bigint;
  hash: string;
}

export interface PartitionVerifierOptions {
  topic?: string;
  partition: number;
  /**
   * Valid checkpoints (signature and links already checked by checkCheckpoints), ascending by
   * last_offset, one per offset: each is compared with the stored entry at its offset.
   */
  checkpoints?: readonly Checkpoint[];
  /** Verification starts after this signed entry (partial verification); otherwise at chain_seq 1. */
  start?: ChainAnchor;
  /** The events topic's high watermark read after the rows' snapshot: a row at or beyond it was never in Kafka. */
  highWatermark?: bigint;
  /** Ingest's committed offset: every offset below it was stored or dead-lettered. */
  committedOffset?: bigint;
  /** Offsets skipped without a dead-letter decision are warnings, not errors (transactional producers, expired decisions). */
  allowOffsetGaps?: boolean;
  /**
   * Retention runs whose records verify found stored and signed (retention-runs.ts). When no row of
   * the span is stored, the signed checkpoints cover every committed offset, and one of these runs'
   * cut-off explains every entry (retention-evidence.ts), that is one chain_expired warning instead
   * of missing_after_checkpoint / missing_before_commit errors. A truncated chain's finding says
   * whether one of them explains the entries before its first stored row.
   */
  retentionRuns?: readonly RetentionRun[];
  /** A truncated chain that no trusted retention run explains is an error, not a warning. */
  requireRetentionEvidence?: boolean;
  maxFindings?: number;
  /** Only findings this accepts are reported (tenant or time scope). */
  inScope?: (f: Finding) => boolean;
}

interface Candidate {
  row: StoredChainRow;
  seq: bigint;
  valid: boolean;
  computed: string;
  /** The entry format the row hashes in, when valid. */
  format: ChainFormat | undefined;
}

interface Group {
  offset: bigint;
  rows: Candidate[];
  raw: number;
  unchained: number;
  /** Dead-lettered offsets below this one. */
  dlqCum: number;
  /** This offset is dead-lettered too. */
  dlqSelf: boolean;
}

interface Entry {
  offset: bigint;
  seq: bigint;
  hash: string;
  event_id?: string;
  tenant_id?: string;
  occurred_at_us?: string;
  dlqCum: number;
  dlqSelf: boolean;
  /** The signed checkpoint a partial verification starts from (not a stored row). */
  anchor?: boolean;
}

const HEX64 = /^[0-9a-f]{64}$/;
const SKEW_MINUTES = EVENT_TIME_WINDOW.max_future_skew_ms / 60_000;
/** The largest time a Date holds. */
const MAX_DATE_MS = 8_640_000_000_000_000n;

export function occurredAtText(us: string | undefined): string | undefined {
  if (us === undefined || !/^\d+$/.test(us)) return undefined;
  const n = BigInt(us);
  return n / 1000n > MAX_DATE_MS ? undefined : microsToIso(n);
}

/**
 * Verifies one partition's chain from rows pushed in Kafka-offset order (all copies of an offset
 * adjacent), interleaved with the partition's dead-lettered offsets (`pushDlq`, ascending).
 * Holds one offset of look-ahead and counters, so memory stays constant whatever the row count.
 *
 * Per offset it keeps the row that links to the previous entry (copies that do not are forged
 * or altered copies), then classifies a broken link by what the rows around it say:
 *   hash does not match content                  → modified
 *   the next row links past this one             → inserted
 *   chain_seq goes back, or the next row fills in → reordered
 *   chain_seq jumps                              → deleted (how many entries, between which offsets)
 *   chain_seq follows but prev_hash differs      → modified (the previous row, hash recomputed)
 * Offsets the chain skips must be dead-lettered (else unexplained_gap); signed checkpoints must
 * match the stored entry at their offset, and none may lie beyond the stored chain.
 */
export class PartitionVerifier {
  readonly report: PartitionReport;
  private prev: Entry | undefined;
  private group: Group | undefined;
  private pending: Group | undefined;
  private dlqCum = 0;
  private lastDlq: bigint | undefined;
  private dlqBelowCommit = 0;
  /** Dead-lettered offsets above the last checkpoint and below the committed offset. */
  private dlqAfterHead = 0;
  private cpIdx = 0;
  private unchained = 0;
  /** The entry format of the last entry that hashed right: tried first for the next one. */
  private format: ChainFormat = DEFAULT_CHAIN_FORMAT;
  /** The last row found out of chain order (explains the gap it leaves). */
  private displaced: { seq: bigint; offset: bigint } | undefined;
  private firstUnchained: { offset: string; event_id: string } | undefined;
  private readonly cps: readonly Checkpoint[];
  private readonly maxFindings: number;
  private readonly opts: PartitionVerifierOptions;
  private highWatermark: bigint | undefined;
  private retentionRuns: readonly RetentionRun[] | undefined;
  /** The truncated finding, judged against retention once the runs are known (finish). */
  private truncation: { finding: Finding; upTo: bigint } | undefined;

  constructor(options: PartitionVerifierOptions) {
    this.opts = options;
    this.highWatermark = options.highWatermark;
    this.retentionRuns = options.retentionRuns;
    this.report = {
      ...(options.topic !== undefined ? { topic: options.topic } : {}),
      partition: options.partition,
      rows: 0,
      duplicates: 0,
      entries: 0,
      entry_formats: sumFormatCounts([]),
      checkpoints: options.checkpoints?.length ?? 0,
      checkpoints_matched: 0,
      findings: [],
      findings_dropped: 0,
    };
    this.cps = options.checkpoints ?? [];
    this.maxFindings = options.maxFindings ?? 1000;
    if (options.start) {
      this.prev = { offset: options.start.offset, seq: options.start.chain_seq, hash: options.start.hash, dlqCum: 0, dlqSelf: false, anchor: true };
      while (this.cpIdx < this.cps.length && BigInt((this.cps[this.cpIdx] as Checkpoint).last_offset) <= options.start.offset) this.cpIdx++;
    }
  }

  /** The events topic's high watermark, when it is only known once rows are flowing (before the first push). */
  setHighWatermark(hw: bigint): void {
    this.highWatermark = hw;
  }

  /** The trusted retention runs, when they are only looked up once no row turned up or the chain is truncated (before finish). */
  setRetentionRuns(runs: readonly RetentionRun[]): void {
    this.retentionRuns = runs;
  }

  /** The stored chain starts after chain_seq 1: its finding waits for the retention runs. Known once end() was called. */
  get truncated(): boolean {
    return this.truncation !== undefined;
  }

  /** Number of rows pushed so far (progress). */
  get rowsSeen(): number {
    return this.report.rows + (this.group?.raw ?? 0) + (this.pending?.raw ?? 0);
  }

  /** Records a finding; returns it when listed (in scope, under maxFindings). */
  private find(f: Omit<Finding, 'partition' | 'topic' | 'severity'> & { severity?: Severity }): Finding | undefined {
    const full: Finding = {
      kind: f.kind,
      severity: f.severity ?? 'error',
      ...(this.opts.topic !== undefined ? { topic: this.opts.topic } : {}),
      partition: this.report.partition,
      ...(f.offset !== undefined ? { offset: f.offset } : {}),
      ...(f.event_id !== undefined ? { event_id: f.event_id } : {}),
      ...(f.tenant_id !== undefined ? { tenant_id: f.tenant_id } : {}),
      ...(f.occurred_at !== undefined ? { occurred_at: f.occurred_at } : {}),
      detail: f.detail,
    };
    if (this.opts.inScope && !this.opts.inScope(full)) return undefined;
    if (this.report.findings.length < this.maxFindings) {
      this.report.findings.push(full);
      return full;
    }
    this.report.findings_dropped++;
    return undefined;
  }

  private at(c: Candidate) {
    const f = c.row.fields;
    const occurred = occurredAtText(f.occurred_at_us);
    return {
      offset: f.kafka_offset,
      event_id: f.event_id,
      tenant_id: f.tenant_id,
      ...(occurred ? { occurred_at: occurred } : {}),
    };
  }

  push(row: StoredChainRow): void {
    const o = BigInt(row.fields.kafka_offset);
    const g = this.group;
    if (g && o === g.offset) {
      this.addTo(g, row);
      return;
    }
    if (g && o < g.offset) throw new Error(`rows must be pushed in offset order (${o} after ${g.offset})`);
    if (g) this.complete(g);
    const self = this.lastDlq === o;
    this.group = { offset: o, rows: [], raw: 0, unchained: 0, dlqCum: this.dlqCum - (self ? 1 : 0), dlqSelf: self };
    this.addTo(this.group, row);
  }

  /** A dead-lettered offset of this partition; ascending, interleaved with the rows by offset. */
  pushDlq(offset: bigint | string): void {
    const o = BigInt(offset);
    if (this.lastDlq !== undefined && o <= this.lastDlq) return;
    this.lastDlq = o;
    this.dlqCum++;
    if (this.opts.committedOffset !== undefined && o < this.opts.committedOffset) {
      this.dlqBelowCommit++;
      const head = this.cps[this.cps.length - 1];
      if (head && o > BigInt(head.last_offset)) this.dlqAfterHead++;
    }
    if (this.group && o === this.group.offset) this.group.dlqSelf = true;
  }

  private addTo(g: Group, row: StoredChainRow): void {
    g.raw++;
    const f = row.fields;
    if (row.hash === '' && f.prev_hash === '') {
      this.unchained++;
      g.unchained++;
      this.firstUnchained ??= { offset: f.kafka_offset, event_id: f.event_id };
      return;
    }
    let computed = '';
    let format: ChainFormat | undefined;
    if (HEX64.test(f.prev_hash) && !row.malformed) {
      const h = storedEntryHash(f, row.hash, this.format);
      computed = h.hash;
      if (h.format !== undefined && computed === row.hash) this.format = format = h.format;
    }
    let seq: bigint;
    try {
      seq = BigInt(f.chain_seq);
    } catch {
      seq = 0n;
    }
    const c: Candidate = { row, seq, valid: computed !== '' && computed === row.hash, computed, format };
    // Identical copies (a re-delivered row): same content and same stored hash.
    if (g.rows.some((x) => x.computed === c.computed && x.row.hash === c.row.hash && x.row.fields.event_id === f.event_id)) return;
    g.rows.push(c);
  }

  private complete(g: Group): void {
    if (this.pending) this.settle(this.pending, g);
    this.pending = g;
    this.group = undefined;
  }

  private settle(g: Group, next: Group | undefined): void {
    this.report.rows += g.raw;
    this.report.duplicates += Math.max(0, g.raw - g.rows.length - g.unchained);
    if (g.rows.length === 0) return;
    const hw = this.highWatermark;
    if (hw !== undefined && g.offset >= hw) {
      for (const c of g.rows)
        this.find({
          ...this.at(c),
          kind: 'inserted',
          detail: `Kafka never assigned offset ${g.offset}: the events topic ends at offset ${hw - 1n} (a forged row)`,
        });
      return;
    }
    const prev = this.prev;
    const expSeq = (prev?.seq ?? 0n) + 1n;
    const expPrev = prev?.hash ?? GENESIS_HASH;
    const linking = g.rows.filter((c) => c.row.fields.prev_hash === expPrev && c.seq === expSeq);
    // Several rows link here (a forged copy with a valid hash): the one the next row commits to wins.
    const pick =
      (linking.length > 1 ? linking.find((c) => c.valid && next?.rows.some((r) => r.row.fields.prev_hash === c.row.hash)) : undefined) ??
      linking.find((c) => c.valid) ??
      linking[0];
    // A row that links, while the next row links past it to the same previous entry, is a forged
    // claim on that chain position: the chain continues from the previous entry, not from it.
    const rival = pick ? next?.rows.find((r) => r.row.fields.prev_hash === expPrev && r.seq === expSeq) : undefined;
    if (pick && next && rival && !next.rows.some((r) => r.row.fields.prev_hash === pick.row.hash)) {
      for (const c of g.rows)
        this.find({
          ...this.at(c),
          kind: 'inserted',
          detail: `this row claims chain_seq ${c.seq}, but the row at offset ${next.offset} holds that place and links past it (a forged insert)`,
        });
      return;
    }
    if (pick) {
      this.extraCopies(g, pick);
      if (!pick.valid) this.find({ ...this.at(pick), kind: 'modified', detail: 'the row content does not match its stored hash (a field was changed)' });
      this.accept(g, pick, {});
      return;
    }
    const cand = g.rows.find((c) => c.valid) ?? (g.rows[0] as Candidate);
    this.extraCopies(g, cand);
    if (!prev) {
      if (!cand.valid) this.find({ ...this.at(cand), kind: 'modified', detail: 'the row content does not match its stored hash (a field was changed)' });
      else this.truncatedStart(cand);
      this.accept(g, cand, { skipGap: true });
      return;
    }
    const successor = next?.rows.find((r) => r.row.fields.prev_hash === prev.hash);
    if (next && successor) {
      for (const c of g.rows) {
        if (c.seq > successor.seq) {
          this.displaced = { seq: c.seq, offset: g.offset };
          this.find({
            ...this.at(c),
            kind: 'reordered',
            detail: `chain_seq ${c.seq} is stored at offset ${g.offset}, before chain_seq ${successor.seq} at offset ${next.offset}: rows are out of chain order`,
          });
        } else
          this.find({
            ...this.at(c),
            kind: 'inserted',
            detail: `this row is not linked into the chain: the row at offset ${next.offset} links to offset ${prev.offset} past it (a forged insert)`,
          });
      }
      return;
    }
    if (!cand.valid) {
      this.find({
        ...this.at(cand),
        kind: 'modified',
        detail: 'the row content does not match its stored hash, and it does not link to the previous entry (its chain fields were changed)',
      });
      this.accept(g, cand, {});
      return;
    }
    const s = cand.seq;
    const ps = prev.seq;
    let gapReported = false;
    if (cand.row.fields.prev_hash === GENESIS_HASH && s === 1n) {
      this.find({ ...this.at(cand), kind: 'chain_restarted', detail: `a new chain (chain_seq 1) starts here after chain_seq ${ps} at offset ${prev.offset}` });
    } else if (s <= ps) {
      this.find({ ...this.at(cand), kind: 'reordered', detail: `chain_seq ${s} follows chain_seq ${ps} (offset ${prev.offset}): rows are out of chain order` });
    } else if (next?.rows.some((r) => r.seq > ps && r.seq < s)) {
      this.find({
        ...this.at(cand),
        kind: 'reordered',
        detail: `chain_seq ${s} is stored before an earlier entry (offset ${next.offset}): rows are out of chain order`,
      });
    } else if (s > ps + 1n) {
      const n = s - ps - 1n;
      gapReported = true;
      const d = this.displaced;
      const moved = d && d.seq > ps && d.seq < s ? ` (chain_seq ${d.seq} was found out of order at offset ${d.offset})` : ': rows deleted';
      this.find({
        ...this.at(cand),
        kind: 'deleted',
        detail: `${n} chain entr${n === 1n ? 'y is' : 'ies are'} missing between offsets ${prev.offset} and ${g.offset} (chain_seq ${ps + 1n}${n > 1n ? `..${s - 1n}` : ''})${moved}`,
      });
    } else if (prev.anchor) {
      this.find({
        ...this.at(cand),
        kind: 'modified',
        detail: `this row does not link to the signed checkpoint at offset ${prev.offset} that the verified span starts from (the row was replaced, its hash recomputed)`,
      });
    } else {
      const occurred = occurredAtText(prev.occurred_at_us);
      this.find({
        kind: 'modified',
        offset: prev.offset.toString(),
        ...(prev.event_id !== undefined ? { event_id: prev.event_id } : {}),
        ...(prev.tenant_id !== undefined ? { tenant_id: prev.tenant_id } : {}),
        ...(occurred ? { occurred_at: occurred } : {}),
        detail: `the row at offset ${prev.offset} was rewritten with a recomputed hash: the next entry (offset ${g.offset}, chain_seq ${s}) commits to a different hash`,
      });
    }
    this.accept(g, cand, { gapReported });
  }

  /** Further distinct rows at an offset that already has its chain row. */
  private extraCopies(g: Group, keep: Candidate): void {
    for (const c of g.rows) {
      if (c === keep) continue;
      if (c.row.hash === keep.row.hash)
        this.find({ ...this.at(c), kind: 'modified', detail: `a copy of the row at offset ${g.offset} with altered content (the original is still stored)` });
      else this.find({ ...this.at(c), kind: 'inserted', detail: `a second, different row claims offset ${g.offset} (a forged insert)` });
    }
  }

  /**
   * Listed now, in offset order and under maxFindings; whether retention explains it is only known
   * once the runs are looked up (lazily, by the caller), so finish() completes it.
   */
  private truncatedStart(c: Candidate): void {
    const missing = c.seq - 1n;
    const anchor = this.cps.find((cp) => BigInt(cp.chain_seq) === missing && cp.chain_head === c.row.fields.prev_hash);
    const finding = this.find({
      ...this.at(c),
      kind: 'truncated',
      severity: 'warning',
      detail: `the stored chain starts at chain_seq ${c.seq}: ${missing} earlier entr${missing === 1n ? 'y is' : 'ies are'} not stored${
        anchor ? ` (it links to the signed checkpoint at offset ${anchor.last_offset})` : ''
      }`,
    });
    if (finding) this.truncation = { finding, upTo: missing };
  }

  /** Completes the truncated finding: the run that removed the entries, or why retention does not explain them. */
  private judgeTruncation(): void {
    const t = this.truncation;
    if (!t) return;
    const v: RetentionVerdict = this.retentionRuns ? explainRemovedEntries(this.cps, t.upTo, this.retentionRuns) : { why: 'no retention run was looked up' };
    if ('run' in v) {
      t.finding.detail += `; retention explains them: ${this.ranBefore(v.run, v.checkpoint, `chain_seq ${t.upTo}`)}`;
      return;
    }
    t.finding.detail += `; not explained by retention (rows deleted?): ${v.why}`;
    if (this.opts.requireRetentionEvidence) t.finding.severity = 'error';
  }

  /** How a run explains entries up to `what`: names the run, its record's place, its cut-off, and the checkpoint that bounds them. */
  private ranBefore(run: RetentionRun, cp: Checkpoint, what: string): string {
    return `retention run ${run.event_id} (its record at ${run.topic}/${run.partition}@${run.offset}, ${microsToIso(run.run_at_us)}) removed every event that occurred before ${microsToIso(run.cutoff_us)}, which every entry up to ${what} did (stored by the signing time of the checkpoint at offset ${cp.last_offset}, ${new Date(cp.created_at_s * 1000).toISOString()}, occurred at most ${SKEW_MINUTES} min after it)`;
  }

  private accept(g: Group, c: Candidate, opts: { skipGap?: boolean; gapReported?: boolean }): void {
    const f = c.row.fields;
    const e: Entry = {
      offset: g.offset,
      seq: c.seq,
      hash: c.row.hash,
      event_id: f.event_id,
      tenant_id: f.tenant_id,
      occurred_at_us: f.occurred_at_us,
      dlqCum: g.dlqCum,
      dlqSelf: g.dlqSelf,
    };
    const prev = this.prev;
    if (g.dlqSelf)
      this.find({ ...this.at(c), kind: 'dlq_conflict', severity: 'warning', detail: `offset ${g.offset} has a chain entry and a dead-letter decision` });
    if (prev && !opts.skipGap && !opts.gapReported) {
      const gap = e.offset - prev.offset - 1n;
      if (gap > 0n) {
        const dlq = BigInt(e.dlqCum - prev.dlqCum - (prev.dlqSelf ? 1 : 0));
        const unexplained = gap - dlq;
        if (unexplained > 0n)
          this.find({
            kind: 'unexplained_gap',
            severity: this.opts.allowOffsetGaps ? 'warning' : 'error',
            offset: (prev.offset + 1n).toString(),
            detail: `${unexplained} of the ${gap} offsets between ${prev.offset} and ${e.offset} are neither stored nor dead-lettered (rows deleted and the chain rebuilt over them, or decisions lost)`,
          });
      }
    }
    // Checkpoints up to this offset.
    while (this.cpIdx < this.cps.length) {
      const cp = this.cps[this.cpIdx] as Checkpoint;
      const co = BigInt(cp.last_offset);
      if (co > e.offset) break;
      this.cpIdx++;
      if (co < e.offset) {
        if (!prev) continue; // before the oldest stored row (retention): nothing to compare with
        this.find({
          kind: 'checkpoint_mismatch',
          offset: cp.last_offset,
          detail: `a signed checkpoint covers offset ${cp.last_offset} (chain_seq ${cp.chain_seq}), but no chain entry is stored there: rows were deleted or the chain rebuilt`,
        });
        continue;
      }
      if (cp.chain_head === e.hash && BigInt(cp.chain_seq) === e.seq) {
        this.report.checkpoints_matched++;
      } else {
        this.find({
          ...this.at(c),
          kind: 'checkpoint_mismatch',
          detail: `the signed checkpoint at offset ${cp.last_offset} says chain_seq ${cp.chain_seq} with head ${cp.chain_head.slice(0, 16)}…, the stored entry has chain_seq ${e.seq} with ${e.hash.slice(0, 16)}…: the chain up to here was rewritten`,
        });
      }
    }
    this.prev = e;
    this.report.entries++;
    if (c.valid && c.format !== undefined) this.report.entry_formats[c.format]++;
    this.report.first_offset ??= e.offset.toString();
  }

  /** No more rows: judges the last ones held back as look-ahead, so `truncated` is known before finish. */
  end(): void {
    if (this.group) this.complete(this.group);
    if (this.pending) this.settle(this.pending, undefined);
    this.pending = undefined;
  }

  /** Ends the stream, then checks what must exist beyond the last stored entry. */
  finish(): PartitionReport {
    this.end();
    this.judgeTruncation();
    const last = this.prev;
    if (last && this.report.entries > 0) {
      this.report.last_offset = last.offset.toString();
      this.report.chain_head = last.hash;
      this.report.chain_seq = last.seq.toString();
    }
    const fu = this.firstUnchained;
    if (fu) {
      this.find({
        kind: 'unchained',
        offset: fu.offset,
        event_id: fu.event_id,
        detail: `${this.unchained} row${this.unchained === 1 ? ' has' : 's have'} no chain values (stored with integrity disabled?); the first is at offset ${fu.offset}`,
      });
    }
    const beyond = this.cps.slice(this.cpIdx).filter((cp) => !last || BigInt(cp.last_offset) > last.offset);
    const expiry = this.report.rows === 0 ? this.expiry(beyond) : undefined;
    if (expiry && 'run' in expiry) {
      this.expired(beyond[beyond.length - 1] as Checkpoint, expiry.run, expiry.checkpoint);
      return this.report;
    }
    if (beyond.length > 0) {
      const first = beyond[0] as Checkpoint;
      const top = beyond[beyond.length - 1] as Checkpoint;
      const missing = last ? BigInt(top.chain_seq) - last.seq : BigInt(top.chain_seq);
      this.find({
        kind: 'missing_after_checkpoint',
        offset: first.last_offset,
        detail: `${beyond.length} signed checkpoint${beyond.length === 1 ? '' : 's'} cover${beyond.length === 1 ? 's' : ''} offsets up to ${top.last_offset} (chain_seq ${top.chain_seq}), but the stored chain ends at ${last ? `offset ${last.offset} (chain_seq ${last.seq})` : '(no rows)'}: ${missing} entr${missing === 1n ? 'y' : 'ies'} missing${
          expiry ? `; not explained by retention: ${expiry.why}` : ''
        }`,
      });
    }
    const committed = this.opts.committedOffset;
    if (committed !== undefined) {
      const base = last ? last.offset : this.opts.start ? this.opts.start.offset : -1n;
      if (committed - 1n > base) {
        const span = committed - 1n - base;
        const dlq = BigInt(this.dlqBelowCommit - (last ? last.dlqCum + (last.dlqSelf ? 1 : 0) : 0));
        const missing = span - dlq;
        if (missing > 0n)
          this.find({
            kind: 'missing_before_commit',
            offset: (base + 1n).toString(),
            detail: `ingest committed offset ${committed} (everything below it was stored or dead-lettered), but ${missing} of the offsets ${base + 1n}..${committed - 1n} are neither stored nor dead-lettered: rows deleted at the end of the chain`,
          });
      }
    }
    return this.report;
  }

  /**
   * With no row of the span stored: does retention explain the loss? Only when the last signed
   * checkpoint covers every committed offset that was not dead-lettered (a tail nobody signed has
   * no time to hold against a cut-off), and a verified run's cut-off is after every signed entry.
   */
  private expiry(beyond: readonly Checkpoint[]): RetentionVerdict | undefined {
    const runs = this.retentionRuns;
    const head = beyond[beyond.length - 1];
    if (!runs || !head) return undefined;
    const committed = this.opts.committedOffset;
    const unsigned = committed === undefined ? 0n : committed - 1n - BigInt(head.last_offset) - BigInt(this.dlqAfterHead);
    if (unsigned > 0n)
      return {
        why: `ingest committed offset ${committed}, and ${unsigned} offsets after the last checkpoint (${head.last_offset}) were neither signed nor dead-lettered`,
      };
    return explainRemovedEntries(beyond, BigInt(head.chain_seq), runs);
  }

  private expired(head: Checkpoint, run: RetentionRun, bound: Checkpoint): void {
    const from = this.opts.start ? this.opts.start.chain_seq + 1n : 1n;
    this.find({
      kind: 'chain_expired',
      severity: 'warning',
      offset: head.last_offset,
      detail: `no entry of chain_seq ${from}..${head.chain_seq} (up to offset ${head.last_offset}) is stored: the signed checkpoint at offset ${head.last_offset} proves they were, and ${this.ranBefore(run, bound, `chain_seq ${head.chain_seq}`)}`,
    });
  }
}

/** The checkpoints of one partition after checkCheckpoints: findings, and the valid ones to hold the chain against. */
export interface CheckpointCheckResult {
  findings: Finding[];
  /** Valid, linked checkpoints, ascending by last_offset, one per offset. */
  valid: Checkpoint[];
  table: number;
  topic: number | null;
}

/**
 * Checks one partition's checkpoints: every signature (key id picks the key: several keys after
 * rotation), the hash links from the first (genesis) to the last, and the Kafka copy against
 * the table. A checkpoint in the topic that the table lacks is an error (removed from the table);
 * one the table has and the topic lacks is a warning (stored, then the publish failed).
 */
export function checkCheckpoints(
  table: readonly Checkpoint[],
  topic: readonly Checkpoint[] | undefined,
  keys: ReadonlyMap<string, KeyObject>,
  where: { topic?: string; partition: number },
): CheckpointCheckResult {
  const findings: Finding[] = [];
  const base = { ...(where.topic !== undefined ? { topic: where.topic } : {}), partition: where.partition };
  const ok = (c: Checkpoint, source: string): boolean => {
    const r = verifyCheckpoint(c, keys);
    if (r.ok) return true;
    findings.push({
      ...base,
      kind: r.problem === 'unknown_key' ? 'checkpoint_forged' : 'checkpoint_altered',
      severity: 'error',
      offset: c.last_offset,
      detail:
        r.problem === 'unknown_key'
          ? `the checkpoint at offset ${c.last_offset} in the ${source} is signed with key ${c.key_id}, which is not a trusted key (forged)`
          : `the signature of the checkpoint at offset ${c.last_offset} in the ${source} does not verify: it was altered after signing`,
    });
    return false;
  };
  const validTable = table.filter((c) => ok(c, 'checkpoints table'));
  const validTopic = topic?.filter((c) => ok(c, 'checkpoints topic'));
  const tableSigs = new Set(validTable.map((c) => c.signature));
  const union = new Map<string, Checkpoint>();
  for (const c of validTable) union.set(c.signature, c);
  if (validTopic) {
    const topicSigs = new Set(validTopic.map((c) => c.signature));
    for (const c of validTopic) {
      if (tableSigs.has(c.signature)) continue;
      union.set(c.signature, c);
      findings.push({
        ...base,
        kind: 'checkpoint_altered',
        severity: 'error',
        offset: c.last_offset,
        detail: `the checkpoint at offset ${c.last_offset} published to the checkpoints topic is missing from (or different in) the checkpoints table`,
      });
    }
    const unpublished = validTable.filter((c) => !topicSigs.has(c.signature));
    if (unpublished.length > 0)
      findings.push({
        ...base,
        kind: 'checkpoint_unpublished',
        severity: 'warning',
        offset: (unpublished[0] as Checkpoint).last_offset,
        detail: `${unpublished.length} checkpoint${unpublished.length === 1 ? ' is' : 's are'} in the table but not in the checkpoints topic (stored, then the publish failed), from offset ${(unpublished[0] as Checkpoint).last_offset}`,
      });
  }
  const sorted = [...union.values()].sort((a, b) => {
    const d = BigInt(a.last_offset) - BigInt(b.last_offset);
    return d < 0n ? -1 : d > 0n ? 1 : a.created_at_s - b.created_at_s;
  });
  const valid: Checkpoint[] = [];
  let expected = GENESIS_CHECKPOINT_HASH;
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j < sorted.length && (sorted[j] as Checkpoint).last_offset === (sorted[i] as Checkpoint).last_offset) j++;
    const same = sorted.slice(i, j);
    const linked = same.find((c) => c.prev_checkpoint_hash === expected);
    const chosen = linked ?? (same[0] as Checkpoint);
    if (!linked) {
      findings.push({
        ...base,
        kind: 'checkpoint_altered',
        severity: 'error',
        offset: chosen.last_offset,
        detail:
          expected === GENESIS_CHECKPOINT_HASH
            ? `the first checkpoint (offset ${chosen.last_offset}) does not start the checkpoint chain: earlier checkpoints were removed`
            : `the checkpoint at offset ${chosen.last_offset} does not link to the previous checkpoint: one was removed or replaced`,
      });
    }
    for (const c of same) {
      if (c === chosen) continue;
      findings.push({
        ...base,
        kind: 'checkpoint_altered',
        severity: 'warning',
        offset: c.last_offset,
        detail: `two validly signed checkpoints for offset ${c.last_offset}: two signers on one partition, or a replay`,
      });
    }
    valid.push(chosen);
    expected = checkpointHash(chosen);
    i = j;
  }
  return { findings, valid, table: table.length, topic: topic ? topic.length : null };
}
