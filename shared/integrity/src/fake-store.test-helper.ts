import { type AuditEventInput, type EventRow, type IngestMeta, type LegacyEventRow, toRow } from '@auditstream/clickhouse';
import { AuditstreamError } from '@auditstream/core';
import type { ChainEntryFields } from './chain.js';
import type { Checkpoint } from './checkpoint.js';
import { chainContentFromRow } from './fields.js';
import type { StoredChainRow } from './partition-verifier.js';
import type { ChainStore, CheckpointStore, StoredLink } from './store.js';

/** An in-memory events + checkpoints table with the ChainStore / CheckpointStore interfaces. */
export class FakeStore implements ChainStore, CheckpointStore {
  rows: LegacyEventRow[] = [];
  checkpoints: Checkpoint[] = [];
  queries = 0;
  /** Makes the next insertCheckpoint store the row and then fail (a timeout after the server wrote it). */
  failNextCheckpointAfterWrite = false;
  /** Makes the next insertCheckpoint fail without storing. */
  failNextCheckpoint = false;

  private links(topic: string, partition: number): StoredLink[] {
    const seen = new Set<string>();
    const out: StoredLink[] = [];
    for (const r of this.rows) {
      if (r.kafka_topic !== topic || r.kafka_partition !== partition) continue;
      const k = `${r.kafka_offset}|${r.prev_hash}|${r.hash}|${r.event_id}`;
      if (seen.has(k)) continue;
      seen.add(k);
      out.push({ offset: BigInt(r.kafka_offset), chain_seq: BigInt(r.chain_seq), prev_hash: r.prev_hash, hash: r.hash, event_id: r.event_id });
    }
    return out.sort((a, b) => (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0));
  }

  async head(topic: string, partition: number) {
    this.queries++;
    const all = this.links(topic, partition);
    const max = all[all.length - 1]?.offset;
    return max === undefined ? [] : all.filter((l) => l.offset === max);
  }
  async before(topic: string, partition: number, offset: bigint) {
    this.queries++;
    const all = this.links(topic, partition).filter((l) => l.offset < offset);
    const max = all[all.length - 1]?.offset;
    return max === undefined ? [] : all.filter((l) => l.offset === max);
  }
  async range(topic: string, partition: number, from: bigint, to: bigint) {
    this.queries++;
    return this.links(topic, partition).filter((l) => l.offset >= from && l.offset <= to);
  }
  async lastCheckpoint(topic: string, partition: number, below?: bigint) {
    this.queries++;
    const list = this.checkpoints
      .filter((c) => c.topic === topic && c.partition === partition && (below === undefined || BigInt(c.last_offset) < below))
      .sort((a, b) => (BigInt(a.last_offset) < BigInt(b.last_offset) ? -1 : 1));
    return list[list.length - 1];
  }
  async leaves(topic: string, partition: number, from: bigint, to: bigint) {
    this.queries++;
    const bySeq = new Map<bigint, string>();
    for (const l of this.links(topic, partition)) if (!bySeq.has(l.chain_seq)) bySeq.set(l.chain_seq, l.hash);
    const out: Buffer[] = [];
    for (let s = from; s <= to; s++) {
      const h = bySeq.get(s);
      if (!h) throw new AuditstreamError('INTEGRITY_TREE_INCOMPLETE', `no chain entry ${s}`, { retriable: false });
      out.push(Buffer.from(h, 'hex'));
    }
    return out;
  }
  async insertCheckpoint(c: Checkpoint) {
    if (this.failNextCheckpoint) {
      this.failNextCheckpoint = false;
      throw new Error('ClickHouse unavailable');
    }
    this.checkpoints.push(c);
    if (this.failNextCheckpointAfterWrite) {
      this.failNextCheckpointAfterWrite = false;
      throw new Error('timeout (the server wrote it anyway)');
    }
  }

  /** An INSERT: copies of the rows as they are now. */
  async insert(rows: readonly EventRow[]) {
    for (const r of rows) this.rows.push({ ...(r as LegacyEventRow) });
  }

  /** The stored rows of a partition as the verifier reads them (offset order, copies adjacent). */
  chainRows(topic = 'audit.events', partition = 0): StoredChainRow[] {
    return this.rows
      .filter((r) => r.kafka_topic === topic && r.kafka_partition === partition)
      .sort((a, b) => (BigInt(a.kafka_offset) < BigInt(b.kafka_offset) ? -1 : BigInt(a.kafka_offset) > BigInt(b.kafka_offset) ? 1 : 0))
      .map((r) => ({ fields: { ...chainContentFromRow(r), chain_seq: r.chain_seq, prev_hash: r.prev_hash } as ChainEntryFields, hash: r.hash }));
  }
}

/** A legacy-layout row for offset `offset` of a partition, as ingest builds it with toRow (chain fields empty). */
export function makeRow(offset: number, opts: { partition?: number; topic?: string; geo?: string; eventId?: string } = {}): LegacyEventRow {
  const event: AuditEventInput = {
    event_id: opts.eventId ?? `0190a000-0000-7000-8000-${String(offset).padStart(12, '0')}`,
    tenant_id: `t${offset % 3}`,
    occurred_at: 1_700_000_000_000_000 + offset * 1_000_003,
    actor: { id: `u${offset % 7}`, type: 'user', name: 'Zoë "Q" O\'Brien', ip: '10.0.0.1' },
    action: 'auth.login',
    category: 'authentication',
    outcome: offset % 3 ? 'success' : 'failure',
    service: 'svc',
    resource: offset % 2 ? { type: 'doc', id: `d${offset}` } : null,
    attributes: { b: '2', a: String(offset), ключ: 'значение' },
  };
  const meta: IngestMeta = {
    received_at: 1_700_000_000_000 + offset * 1000 + 123,
    ingested_at: 1_700_000_000_000 + offset * 1000 + 123,
    kafka_topic: opts.topic ?? 'audit.events',
    kafka_partition: opts.partition ?? 0,
    kafka_offset: offset,
    geo_country: opts.geo ?? 'DE',
  };
  return toRow(event, meta, 'legacy') as LegacyEventRow;
}
