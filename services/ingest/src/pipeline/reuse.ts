import { contentDigest, type EventRow } from '@auditstream/clickhouse';
import type { Logger } from '@auditstream/observability';
import type { IngestMetrics } from '../metrics.js';

/** Event ids remembered per ingest process (≈ 60 B each): reuse further apart is found by `auditstream verify`. */
export const REUSE_WINDOW_EVENTS = 100_000;

/**
 * Counts stored messages that reuse an event_id seen recently by this process (the
 * model is in @auditstream/clickhouse identity.ts): `duplicate` when the event content is the
 * same (a producer that published one event twice), `conflict` when it differs (a buggy
 * producer, or an attempt to replace another event). Both messages stay stored and chained;
 * this only makes the reuse visible as it happens (metric + a warning naming the ids and
 * offsets, never the payload). A re-delivered copy of a message (same source) is neither.
 * Called with the rows of each successful INSERT; memory is bounded (oldest ids forgotten first).
 */
export function createReuseTracker(deps: {
  metrics: Pick<IngestMetrics, 'eventIdReuse'>;
  logger: Pick<Logger, 'warn'>;
  window?: number;
}): (rows: readonly EventRow[]) => void {
  const window = deps.window ?? REUSE_WINDOW_EVENTS;
  // Everything lives in typed arrays, a ring of `window` slots (the oldest id is evicted in O(1))
  // indexed by an open-addressing table: no string and no object per remembered id, so nothing
  // here is traced or moved by the GC, however many ids it holds. An id is its UUID's 128 bits
  // (toRow stores only UUIDs, lowercase).
  const idWords = new Int32Array(window * 4);
  const digests = new Float64Array(window);
  const topicOf = new Int32Array(window);
  const partitions = new Float64Array(window);
  // kafka_offset as a number; the rare one past 2^53 keeps its text (by slot).
  const offsets = new Float64Array(window);
  const bigOffsets = new Map<number, string>();
  const used = new Uint8Array(window);
  // The topics seen (ingest reads one): their index in this list stands for them in topicOf.
  const topics: string[] = [];
  let bits = 1;
  while (1 << bits < window * 2) bits++;
  const mask = (1 << bits) - 1;
  // Pairs (slot + 1, home index of its id), 0 = empty; load factor ≤ 1/2. The home beside the slot
  // spares a read of the slot's id (a cache miss) for most probes and every move of a deletion.
  const table = new Int32Array(2 << bits);
  let next = 0;

  const w = new Int32Array(4);
  const home = (w0: number, w1: number, w2: number, w3: number): number => {
    let h = Math.imul(w0 ^ Math.imul(w1, 0x85ebca6b) ^ Math.imul(w2, 0xc2b2ae35) ^ Math.imul(w3, 0x27d4eb2f), 0x9e3779b1);
    h ^= h >>> 16;
    return h & mask;
  };
  const homeOf = (slot: number): number =>
    home(idWords[slot * 4] as number, idWords[slot * 4 + 1] as number, idWords[slot * 4 + 2] as number, idWords[slot * 4 + 3] as number);
  // The table index holding `w`, or the empty index where it would go (negative: -index - 1).
  const find = (): number => {
    const w0 = w[0] as number;
    const w1 = w[1] as number;
    const w2 = w[2] as number;
    const w3 = w[3] as number;
    const h = home(w0, w1, w2, w3);
    for (let i = h; ; i = (i + 1) & mask) {
      const e = table[i * 2] as number;
      if (e === 0) return -i - 1;
      if (table[i * 2 + 1] !== h) continue;
      const s = (e - 1) * 4;
      if (idWords[s] === w0 && idWords[s + 1] === w1 && idWords[s + 2] === w2 && idWords[s + 3] === w3) return i;
    }
  };
  // Linear probing's deletion: empty the index, then move back every later entry of the run
  // whose home is not between the hole and itself (no tombstones, probes stay short).
  const remove = (slot: number): void => {
    let i = homeOf(slot);
    while (table[i * 2] !== slot + 1) i = (i + 1) & mask;
    for (let j = (i + 1) & mask; table[j * 2] !== 0; j = (j + 1) & mask) {
      const k = table[j * 2 + 1] as number;
      if (i <= j ? i < k && k <= j : i < k || k <= j) continue;
      table[i * 2] = table[j * 2] as number;
      table[i * 2 + 1] = k;
      i = j;
    }
    table[i * 2] = 0;
  };
  const topicIndex = (t: string): number => {
    let i = topics.indexOf(t);
    if (i < 0) i = topics.push(t) - 1;
    return i;
  };
  const offsetAt = (slot: number): string => bigOffsets.get(slot) ?? String(offsets[slot]);

  return (rows) => {
    for (const r of rows) {
      if (!parseUuid(r.event_id, w)) continue;
      let at = find();
      if (at < 0) {
        if (used[next]) {
          remove(next);
          bigOffsets.delete(next);
          at = find(); // the removal may have opened a nearer empty index
        }
        idWords.set(w, next * 4);
        digests[next] = contentDigest(r);
        topicOf[next] = topicIndex(r.kafka_topic);
        partitions[next] = r.kafka_partition;
        const text = r.kafka_offset;
        const offset = Number(text);
        offsets[next] = offset;
        // (toRow's offsets are canonical decimals; a number gives the same text back below 2^53.)
        if (!(Number.isSafeInteger(offset) && text.length < 16 && (text.length === 1 || text.charCodeAt(0) !== 48))) bigOffsets.set(next, text);
        used[next] = 1;
        table[(-at - 1) * 2] = next + 1;
        table[(-at - 1) * 2 + 1] = home(w[0] as number, w[1] as number, w[2] as number, w[3] as number);
        next = next + 1 === window ? 0 : next + 1;
        continue;
      }
      const slot = (table[at * 2] as number) - 1;
      const prev = { topic: topics[topicOf[slot] as number] as string, partition: partitions[slot] as number, offset: offsetAt(slot) };
      if (prev.topic === r.kafka_topic && prev.partition === r.kafka_partition && prev.offset === r.kafka_offset) continue;
      const kind = contentDigest(r) === digests[slot] ? 'duplicate' : 'conflict';
      deps.metrics.eventIdReuse.inc({ kind });
      if (kind === 'conflict')
        deps.logger.warn(
          { event_id: r.event_id, first: prev, reused_at: { topic: r.kafka_topic, partition: r.kafka_partition, offset: r.kafka_offset } },
          'a message reused the event_id of an earlier one with different content: both are stored; queries show the first received, verify names the conflict',
        );
    }
  };
}

/** The 128 bits of a lowercase UUID (8-4-4-4-12 hex digits) into `out`; false for any other text. */
function parseUuid(id: string, out: Int32Array): boolean {
  if (id.length !== 36 || id.charCodeAt(8) !== 45 || id.charCodeAt(13) !== 45 || id.charCodeAt(18) !== 45 || id.charCodeAt(23) !== 45) return false;
  let word = 0;
  let n = 0;
  for (let i = 0; i < 36; i++) {
    if (i === 8 || i === 13 || i === 18 || i === 23) continue;
    const c = id.charCodeAt(i);
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1;
    if (d < 0) return false;
    word = (word << 4) | d;
    if (++n % 8 === 0) {
      out[n / 8 - 1] = word;
      word = 0;
    }
  }
  return true;
}
