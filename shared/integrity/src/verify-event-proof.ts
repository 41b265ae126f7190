import type { KeyObject } from 'node:crypto';
import { type ClickHouse, sql, table } from '@auditstream/clickhouse';
import { verifyCheckpoint } from './checkpoint.js';
import { storedEntryHash } from './entry.js';
import { leafHash, verifyInclusion } from './merkle.js';
import type { StoredChainRow } from './partition-verifier.js';
import { readTreeHeads, storedInclusionPath } from './proofs.js';
import { clickhouseIntegrityStore, streamChainRows } from './store.js';
import type { EventVerification } from './verify-event.js';

/**
 * verifyEvent's fast path: instead of walking the chain to the covering checkpoint, prove the row's
 * hash is leaf chain_seq - 1 of the latest signed tree head (an inclusion proof from the stored
 * subtree roots, docs/integrity.md "Stored subtree roots"). The row must hash to its stored hash
 * and link to its stored neighbours, as on the walk. A few point reads, whatever the checkpoint
 * interval. Anything that does not check out (no tree head covering the row, a bad signature, a
 * changed row, a wrong stored root, copies that differ) returns undefined: the chain walk then
 * decides and says why, exactly as before.
 */
/** Offsets read on each side of the event for its neighbours. */
const WINDOW = 8n;

export async function verifyEventByProof(o: {
  ch: ClickHouse;
  publicKeys: ReadonlyMap<string, KeyObject>;
  topic: string;
  partition: number;
  offset: bigint;
  event_id: string;
}): Promise<EventVerification | undefined> {
  const key = { topic: o.topic, partition: o.partition };
  // One read of the offsets around the event gives the row and both neighbours (each read scans the partition's
  // key columns: events is sorted by tenant); the separate look-ups only when a neighbour lies beyond the window.
  const [heads, window] = await Promise.all([
    readTreeHeads(o.ch, key),
    collect(streamChainRows(o.ch, key, { from: o.offset > WINDOW ? o.offset - WINDOW : 0n, to: o.offset + WINDOW })),
  ]);
  const at = (r: StoredChainRow) => BigInt(r.fields.kafka_offset);
  const rows = window.filter((r) => at(r) === o.offset);
  const below = window.filter((r) => at(r) < o.offset);
  const above = window.filter((r) => at(r) > o.offset);
  const lastBelow = below.length > 0 ? at(below[below.length - 1] as StoredChainRow) : undefined;
  const firstAbove = above.length > 0 ? at(above[0] as StoredChainRow) : undefined;
  const before: { offset: bigint; hash: string }[] =
    lastBelow !== undefined
      ? below.filter((r) => at(r) === lastBelow).map((r) => ({ offset: lastBelow, hash: r.hash }))
      : o.offset > WINDOW
        ? await clickhouseIntegrityStore(o.ch).before(o.topic, o.partition, o.offset)
        : [];
  const next: { offset: string; prev_hash: string }[] =
    firstAbove !== undefined
      ? above.filter((r) => at(r) === firstAbove).map((r) => ({ offset: r.fields.kafka_offset, prev_hash: r.fields.prev_hash }))
      : await nextRows(o.ch, key, o.offset);
  const head = heads[0];
  const self = rows.find((r) => r.fields.event_id === o.event_id);
  if (!head || !self || self.malformed || rows.some((r) => r.hash !== self.hash)) return undefined;
  if (!verifyCheckpoint(head, o.publicKeys).ok) return undefined;
  const seq = Number(self.fields.chain_seq);
  if (!(seq >= 1 && seq <= Number(head.tree_size))) return undefined;
  const computed = storedEntryHash(self.fields, self.hash).hash;
  if (computed === '') return undefined;
  const previous = before[0];
  if (computed !== self.hash || before.some((b) => b.hash !== self.fields.prev_hash)) return undefined;
  if (next.some((n) => n.prev_hash !== self.hash)) return undefined;
  const path = await storedInclusionPath(o.ch, head, seq - 1);
  if (!verifyInclusion(seq - 1, Number(head.tree_size), leafHash(Buffer.from(self.hash, 'hex')), path, Buffer.from(head.tree_root, 'hex'))) return undefined;
  const after = next[0];
  const { tree_frontier: _f, ...checkpoint } = head as typeof head & { tree_frontier?: string };
  return {
    status: 'verified',
    reason: null,
    chain: {
      topic: o.topic,
      partition: o.partition,
      offset: o.offset.toString(),
      chain_seq: self.fields.chain_seq,
      prev_hash: self.fields.prev_hash,
      hash: self.hash,
      computed_hash: computed,
    },
    link: {
      content_matches_hash: true,
      previous: previous ? { offset: previous.offset.toString(), hash: previous.hash, linked: true } : null,
      next: after ? { offset: after.offset, prev_hash: after.prev_hash, linked: true } : null,
    },
    checkpoint: { ...checkpoint, matches: true },
    // The proof covers the row itself; the rows after it are their own proofs' business.
    span: { from_offset: o.offset.toString(), to_offset: o.offset.toString() },
    findings: [],
  };
}

async function collect(rows: AsyncIterable<StoredChainRow[]>): Promise<StoredChainRow[]> {
  const out: StoredChainRow[] = [];
  for await (const batch of rows) out.push(...batch);
  return out;
}

/** The rows at the lowest stored offset above `offset` (copies too; none when it is the last). */
async function nextRows(ch: ClickHouse, key: { topic: string; partition: number }, offset: bigint): Promise<{ offset: string; prev_hash: string }[]> {
  const rows = await ch.queryRows<{ offset: string; prev_hash: string }>(
    sql`SELECT toString(kafka_offset) AS offset, prev_hash FROM ${table(ch.database, 'events')}
WHERE kafka_topic = ${key.topic} AND kafka_partition = ${key.partition} AND kafka_offset > ${offset}
ORDER BY kafka_offset LIMIT 8`,
    { operation: 'integrity_next_rows' },
  );
  // 18.16 has no LIMIT … WITH TIES: the copies at the lowest offset among the first few rows.
  return rows.filter((r) => r.offset === rows[0]?.offset);
}
