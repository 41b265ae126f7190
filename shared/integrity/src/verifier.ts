import type { KeyObject } from 'node:crypto';
import { type ChainEntryFields, entryHash, GENESIS_HASH } from './chain.js';
import { type Checkpoint, checkpointHash, verifyCheckpoint } from './checkpoint.js';

/** What verification can find, named for the auditor reading the report. */
export type FindingKind =
  | 'modified' // a stored row's content no longer matches its hash
  | 'deleted' // chain entries are missing between two stored rows
  | 'inserted' // a row that is not part of the chain (forged)
  | 'reordered' // rows whose chain order contradicts their Kafka order
  | 'checkpoint_forged' // bad signature or unknown key
  | 'checkpoint_altered' // checkpoint chain broken, or table and topic copies disagree
  | 'checkpoint_mismatch' // a checkpoint's chain head is not the stored row at its offset
  | 'missing_after_checkpoint' // a checkpoint proves rows existed that are gone
  | 'unexplained_gap'; // Kafka offsets skipped with no dead-letter decision (informational when the chain links)

export interface Finding {
  kind: FindingKind;
  partition: number;
  offset?: string;
  event_id?: string;
  detail: string;
}

export interface StoredChainRow {
  fields: ChainEntryFields;
  hash: string;
}

export interface PartitionReport {
  partition: number;
  rows: number;
  duplicates: number;
  first_offset?: string;
  last_offset?: string;
  chain_head?: string;
  checkpoints: number;
  findings: Finding[];
}

/**
 * Verifies one partition's chain from rows streamed in Kafka-offset order (duplicates of a
 * re-delivered row adjacent). Holds one row of look-ahead, so memory stays constant.
 */
export class PartitionVerifier {
  readonly report: PartitionReport;
  private prev: StoredChainRow | undefined;
  private pending: StoredChainRow | undefined;
  private readonly dlqOffsets: ReadonlySet<string>;
  private readonly maxFindings: number;
  private headsByOffset = new Map<string, { hash: string; seq: string }>();
  private readonly checkpointOffsets: ReadonlySet<string>;

  constructor(options: { partition: number; dlqOffsets?: ReadonlySet<string>; checkpointOffsets?: ReadonlySet<string>; maxFindings?: number }) {
    this.report = { partition: options.partition, rows: 0, duplicates: 0, checkpoints: 0, findings: [] };
    this.dlqOffsets = options.dlqOffsets ?? new Set();
    this.checkpointOffsets = options.checkpointOffsets ?? new Set();
    this.maxFindings = options.maxFindings ?? 100;
  }

  private find(f: Omit<Finding, 'partition'>): void {
    if (this.report.findings.length < this.maxFindings) this.report.findings.push({ partition: this.report.partition, ...f });
  }

  push(row: StoredChainRow): void {
    const p = this.pending;
    if (p && p.fields.kafka_offset === row.fields.kafka_offset) {
      if (p.hash === row.hash && entryHash(row.fields) === row.hash && p.fields.event_id === row.fields.event_id) {
        this.report.duplicates++; // a re-delivered copy: identical, counted once
        return;
      }
      this.find({ kind: 'inserted', offset: row.fields.kafka_offset, event_id: row.fields.event_id, detail: 'two different rows claim the same Kafka offset' });
      return;
    }
    if (p) this.settle(p, row);
    this.pending = row;
  }

  /** Decides about `cur` (the pending row) now that the row after it is known. */
  private settle(cur: StoredChainRow, next: StoredChainRow | undefined): void {
    const f = cur.fields;
    const prev = this.prev;
    this.report.rows++;
    this.report.first_offset ??= f.kafka_offset;
    const at = { offset: f.kafka_offset, event_id: f.event_id };
    let inChain = true;
    if (entryHash(f) !== cur.hash) {
      this.find({ ...at, kind: 'modified', detail: 'the row content does not match its stored hash (a field was changed)' });
    } else if (prev && next && next.fields.prev_hash === prev.hash && next.fields.prev_hash !== cur.hash) {
      inChain = false;
      this.find({ ...at, kind: 'inserted', detail: 'this row is not linked into the chain; the next row links past it (forged insert)' });
    } else if (prev && BigInt(f.chain_seq) <= BigInt(prev.fields.chain_seq)) {
      this.find({ ...at, kind: 'reordered', detail: `chain_seq ${f.chain_seq} follows ${prev.fields.chain_seq}: rows are out of chain order` });
    } else if (prev && f.prev_hash !== prev.hash) {
      const gap = BigInt(f.chain_seq) - BigInt(prev.fields.chain_seq) - 1n;
      if (gap > 0n) {
        this.find({
          ...at,
          kind: 'deleted',
          detail: `${gap} chain entr${gap === 1n ? 'y is' : 'ies are'} missing between offsets ${prev.fields.kafka_offset} and ${f.kafka_offset} (rows deleted)`,
        });
      } else {
        this.find({ ...at, kind: 'inserted', detail: 'prev_hash does not link to the previous row' });
      }
    } else if (!prev && f.prev_hash === GENESIS_HASH && f.chain_seq !== '1') {
      this.find({ ...at, kind: 'modified', detail: 'chain start has a genesis prev_hash but chain_seq is not 1' });
    }
    if (prev && inChain) this.checkOffsetGap(prev.fields.kafka_offset, f.kafka_offset);
    if (inChain) {
      this.prev = cur;
      if (this.checkpointOffsets.has(f.kafka_offset)) this.headsByOffset.set(f.kafka_offset, { hash: cur.hash, seq: f.chain_seq });
    }
  }

  private checkOffsetGap(a: string, b: string): void {
    const from = BigInt(a) + 1n;
    const to = BigInt(b);
    if (to - from > 10_000n) {
      this.find({ kind: 'unexplained_gap', offset: b, detail: `offsets ${from}..${to - 1n} are not in the table` });
      return;
    }
    for (let o = from; o < to; o++) {
      if (!this.dlqOffsets.has(o.toString())) {
        this.find({ kind: 'unexplained_gap', offset: o.toString(), detail: `offset ${o} is neither stored nor dead-lettered` });
        return;
      }
    }
  }

  /** Ends the row stream, then checks the partition's checkpoints against the chain. */
  finish(checkpoints: { table: readonly Checkpoint[]; topic?: readonly Checkpoint[] }, publicKeys: ReadonlyMap<string, KeyObject>): PartitionReport {
    if (this.pending) this.settle(this.pending, undefined);
    this.pending = undefined;
    const last = this.prev;
    if (last) {
      this.report.last_offset = last.fields.kafka_offset;
      this.report.chain_head = last.hash;
    }
    this.checkCheckpoints(checkpoints.table, checkpoints.topic, publicKeys, last);
    return this.report;
  }

  private checkCheckpoints(
    table: readonly Checkpoint[],
    topic: readonly Checkpoint[] | undefined,
    keys: ReadonlyMap<string, KeyObject>,
    last: StoredChainRow | undefined,
  ): void {
    const sorted = [...table].sort((a, b) => (BigInt(a.last_offset) < BigInt(b.last_offset) ? -1 : 1));
    this.report.checkpoints = sorted.length;
    let prevHash: string | undefined;
    for (const c of sorted) {
      const sig = verifyCheckpoint(c, keys);
      if (!sig.ok) {
        this.find({
          kind: 'checkpoint_forged',
          offset: c.last_offset,
          detail: sig.problem === 'unknown_key' ? `checkpoint signed with unknown key ${c.key_id}` : 'checkpoint signature does not verify',
        });
        prevHash = checkpointHash(c);
        continue;
      }
      if (prevHash !== undefined && c.prev_checkpoint_hash !== prevHash) {
        this.find({
          kind: 'checkpoint_altered',
          offset: c.last_offset,
          detail: 'checkpoint does not link to the previous checkpoint (one was removed or replaced)',
        });
      }
      prevHash = checkpointHash(c);
      const head = this.headsByOffset.get(c.last_offset);
      if (head) {
        if (head.hash !== c.chain_head || head.seq !== c.chain_seq) {
          this.find({
            kind: 'checkpoint_mismatch',
            offset: c.last_offset,
            detail: 'the stored row at the checkpoint offset does not have the signed chain head',
          });
        }
      } else if (!last || BigInt(c.last_offset) > BigInt(last.fields.kafka_offset)) {
        this.find({
          kind: 'missing_after_checkpoint',
          offset: c.last_offset,
          detail: `a signed checkpoint covers offsets up to ${c.last_offset}, but the stored chain ends at ${last?.fields.kafka_offset ?? '(no rows)'}`,
        });
      } else if (BigInt(c.last_offset) >= BigInt(this.report.first_offset ?? '0')) {
        this.find({ kind: 'checkpoint_mismatch', offset: c.last_offset, detail: 'no chain row at the checkpoint offset' });
      }
    }
    if (topic) {
      const key = (c: Checkpoint) => `${c.last_offset}|${c.signature}`;
      const inTable = new Set(table.map(key));
      for (const c of topic) {
        if (inTable.has(key(c))) continue;
        if (verifyCheckpoint(c, keys).ok) {
          this.find({
            kind: 'checkpoint_altered',
            offset: c.last_offset,
            detail: 'a checkpoint published to Kafka is missing or different in ClickHouse',
          });
          if (!last || BigInt(c.last_offset) > BigInt(last.fields.kafka_offset)) {
            this.find({
              kind: 'missing_after_checkpoint',
              offset: c.last_offset,
              detail: `the Kafka copy of a checkpoint proves offsets up to ${c.last_offset} existed; the stored chain ends at ${last?.fields.kafka_offset ?? '(no rows)'}`,
            });
          }
        }
      }
    }
  }
}
