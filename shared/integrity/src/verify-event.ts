import type { KeyObject } from 'node:crypto';
import { type ClickHouse, sql, table } from '@auditstream/clickhouse';
import { type Checkpoint, verifyCheckpoint } from './checkpoint.js';
import { storedEntryHash } from './entry.js';
import { type Finding, PartitionVerifier, type StoredChainRow } from './partition-verifier.js';
import { checkpointsFrom, clickhouseIntegrityStore, streamChainRows, streamDlqOffsets } from './store.js';
import { verifyEventByProof } from './verify-event-proof.js';

/**
 * One event's proof. First the fast one (verify-event-proof.ts): the row hashes to its stored hash,
 * links to its neighbours, and an inclusion proof from the stored subtree roots places that hash in
 * the latest signed tree head. When that does not check out, or no tree head covers the row, the
 * chain walk below decides, with its findings:
 * its row and the rows from it to the signed checkpoint covering it (the first
 * at or after its offset), verified by the same PartitionVerifier as `auditstream verify`. Every
 * entry of that span hashes to its stored hash and links to the next, up to the checkpoint's
 * signed head: the signature then commits to this event's hash. Rows before it play no part
 * (their integrity is theirs); the entry before it is read for the backward link.
 *
 * - verified: the event's row hashes to its stored hash, links into the chain, and the chain
 *   from the previous checkpoint matches the covering checkpoint's signed head;
 * - tampered: an error finding on this event's row (reason: that finding), or anywhere in the
 *   span its covering checkpoint proves (reason names the offset): the proof does not check out;
 * - unverified_yet: nothing is wrong, but no signed checkpoint covers the offset yet;
 * - unchained: the row carries no chain values (stored with integrity disabled).
 *
 * Only the checkpoints nearest the offset are read (from the table) and their signatures checked,
 * so the cost does not grow with the partition's history; the checkpoint chain's links and the
 * topic copy are `auditstream verify`'s cross-checks (a deleted covering checkpoint makes an event
 * unverified_yet here, an error there). An invalid checkpoint passed over is an error of the span.
 */
export type EventVerificationStatus = 'verified' | 'tampered' | 'unverified_yet' | 'unchained';

export interface EventVerification {
  status: EventVerificationStatus;
  /** Why tampered / unverified_yet / unchained (null when verified). */
  reason: string | null;
  /** The stored row's chain fields and the hash recomputed from its content. */
  chain: { topic: string; partition: number; offset: string; chain_seq: string; prev_hash: string; hash: string; computed_hash: string | null };
  link: {
    content_matches_hash: boolean;
    /** The entry before it (previous offset in the chain): does this row's prev_hash name its hash? null at a chain start. */
    previous: { offset: string; hash: string; linked: boolean } | null;
    /** The next stored entry: does its prev_hash name this row's hash? null when none is stored yet. */
    next: { offset: string; prev_hash: string; linked: boolean } | null;
  };
  checkpoint: (Checkpoint & { matches: boolean }) | null;
  /** The offsets verified: from the event's own through the covering checkpoint's (or the next stored row). */
  span: { from_offset: string; to_offset: string };
  findings: Finding[];
}

/** Checkpoints read at or after the offset to find a validly signed one. */
const NEAREST = 16;

export async function verifyEvent(o: {
  ch: ClickHouse;
  publicKeys: ReadonlyMap<string, KeyObject>;
  topic: string;
  partition: number;
  offset: bigint;
  event_id: string;
  signal?: AbortSignal;
  /** false: only the chain walk, which only reads (the proof may store subtree roots it lacks; verify runs read-only). */
  proof?: boolean;
}): Promise<EventVerification> {
  const proven = o.proof === false ? undefined : await verifyEventByProof(o);
  if (proven) return proven;
  return verifyEventByChain(o);
}

/** The chain walk: every row from the event to its covering checkpoint (what verifyEvent did before tree heads). */
async function verifyEventByChain(o: Parameters<typeof verifyEvent>[0]): Promise<EventVerification> {
  const key = { topic: o.topic, partition: o.partition };
  const near = await checkpointsFrom(o.ch, o.topic, o.partition, o.offset, NEAREST);
  const cpFindings: Finding[] = [];
  // The nearest validly signed one; the invalid ones passed over lie inside the span.
  const pick = (list: readonly Checkpoint[]): Checkpoint | undefined => {
    for (const c of list) {
      const r = verifyCheckpoint(c, o.publicKeys);
      if (r.ok) return c;
      cpFindings.push({
        kind: r.problem === 'unknown_key' ? 'checkpoint_forged' : 'checkpoint_altered',
        severity: 'error',
        topic: o.topic,
        partition: o.partition,
        offset: c.last_offset,
        detail:
          r.problem === 'unknown_key'
            ? `the checkpoint at offset ${c.last_offset} is signed with key ${c.key_id}, which is not a trusted key (forged)`
            : `the signature of the checkpoint at offset ${c.last_offset} does not verify: it was altered after signing`,
      });
    }
    return undefined;
  };
  const cover = pick(near);
  // The proof runs forward: from this row to the covering checkpoint's signed head. The span starts at
  // the row itself, anchored on the prev_hash it stores (which its own hash covers); the entry
  // before it is read for the backward link only.
  const store = clickhouseIntegrityStore(o.ch);
  const links = await store.range(o.topic, o.partition, o.offset, o.offset);
  const link = links.find((l) => l.event_id === o.event_id) ?? links[0];
  const previousLink = (await store.before(o.topic, o.partition, o.offset))[0];
  const chained = link !== undefined && link.hash !== '' && link.chain_seq > 1n;
  // Without a covering checkpoint: up to the next stored row, so its link to this one is checked.
  const to = cover ? BigInt(cover.last_offset) : await nextOffset(o, o.offset);
  const verifier = new PartitionVerifier({
    topic: o.topic,
    partition: o.partition,
    checkpoints: cover ? [cover] : [],
    ...(chained ? { start: { offset: o.offset - 1n, chain_seq: link.chain_seq - 1n, hash: link.prev_hash } } : {}),
    maxFindings: 100,
  });
  let self: StoredChainRow | undefined;
  let after: StoredChainRow | undefined;
  const bounds = { from: o.offset, to };
  const dlq = streamDlqOffsets(o.ch, key, bounds)[Symbol.asyncIterator]();
  let nextDlq = await dlq.next();
  for await (const batch of streamChainRows(o.ch, key, bounds)) {
    if (o.signal?.aborted) throw new Error('aborted');
    for (const row of batch) {
      const at = BigInt(row.fields.kafka_offset);
      while (!nextDlq.done && nextDlq.value < at) {
        verifier.pushDlq(nextDlq.value);
        nextDlq = await dlq.next();
      }
      if (at === o.offset && (self === undefined || row.fields.event_id === o.event_id)) self = row;
      else if (at > o.offset && after === undefined) after = row;
      verifier.push(row);
    }
  }
  while (!nextDlq.done) {
    verifier.pushDlq(nextDlq.value);
    nextDlq = await dlq.next();
  }
  const report = verifier.finish();
  const offsetText = o.offset.toString();
  const findings = [...cpFindings, ...report.findings];
  const computed = self ? computedHash(self) : null;
  const result: EventVerification = {
    status: 'verified',
    reason: null,
    chain: {
      topic: o.topic,
      partition: o.partition,
      offset: offsetText,
      chain_seq: self?.fields.chain_seq ?? '',
      prev_hash: self?.fields.prev_hash ?? '',
      hash: self?.hash ?? '',
      computed_hash: computed,
    },
    link: {
      content_matches_hash: self !== undefined && computed === self.hash,
      previous: previousLink ? { offset: previousLink.offset.toString(), hash: previousLink.hash, linked: self?.fields.prev_hash === previousLink.hash } : null,
      next: after ? { offset: after.fields.kafka_offset, prev_hash: after.fields.prev_hash, linked: after.fields.prev_hash === self?.hash } : null,
    },
    checkpoint: cover ? { ...cover, matches: report.checkpoints_matched === 1 } : null,
    span: { from_offset: offsetText, to_offset: to.toString() },
    findings,
  };
  const errors = findings.filter((f) => f.severity === 'error');
  const own = errors.find((f) => f.offset === offsetText && f.kind !== 'unchained');
  const other = errors[0];
  if (!self) return { ...result, status: 'tampered', reason: `no chain row is stored at offset ${offsetText} of partition ${o.partition}` };
  if (self.hash === '' && self.fields.prev_hash === '')
    return { ...result, status: 'unchained', reason: 'the row carries no chain values (stored with integrity disabled)' };
  if (own) return { ...result, status: 'tampered', reason: own.detail };
  if (!result.link.content_matches_hash)
    return { ...result, status: 'tampered', reason: 'the row content does not match its stored hash (a field was changed)' };
  if (result.link.previous && !result.link.previous.linked)
    return {
      ...result,
      status: 'tampered',
      reason: `the entry before it (offset ${result.link.previous.offset}) does not have the hash this row links to: the chain was rewritten there`,
    };
  if (result.link.next && !result.link.next.linked)
    return { ...result, status: 'tampered', reason: `the next entry (offset ${result.link.next.offset}) does not link to this row's hash` };
  if (other)
    return {
      ...result,
      status: 'tampered',
      reason: `the chain span its checkpoint proves was altered${other.offset !== undefined ? ` at offset ${other.offset}` : ''}: ${other.detail}`,
    };
  if (!cover) return { ...result, status: 'unverified_yet', reason: 'no signed checkpoint covers this offset yet' };
  if (!result.checkpoint?.matches) return { ...result, status: 'tampered', reason: 'the covering checkpoint does not match the stored chain' };
  return result;
}

function computedHash(row: StoredChainRow): string | null {
  if (row.malformed) return null;
  return storedEntryHash(row.fields, row.hash).hash || null;
}

/** The lowest stored offset above `offset` (or `offset` itself when none is stored yet). */
async function nextOffset(o: { ch: ClickHouse; topic: string; partition: number }, offset: bigint): Promise<bigint> {
  const rows = await o.ch.queryRows<{ o: string }>(
    sql`SELECT toString(min(kafka_offset)) AS o, count() AS n FROM ${table(o.ch.database, 'events')}
WHERE kafka_topic = ${o.topic} AND kafka_partition = ${o.partition} AND kafka_offset > ${offset}`,
    { operation: 'integrity_next_offset' },
  );
  const r = rows[0] as { o: string; n?: string | number } | undefined;
  return r && Number(r.n ?? 0) > 0 ? BigInt(r.o) : offset;
}
