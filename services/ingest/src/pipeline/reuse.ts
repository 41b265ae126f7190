import { contentDigest, type EventRow } from '@auditstream/clickhouse';
import type { Logger } from '@auditstream/observability';
import type { IngestMetrics } from '../metrics.js';

/** Event ids remembered per ingest process (≈ 150 B each): reuse further apart is found by `auditstream verify`. */
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
  // id → its slot in a ring of parallel arrays (no object per id for the GC to trace); the ring
  // evicts the oldest id in O(1). (Map's own order is no substitute: `seen.keys().next()` walks
  // over the holes of every deleted entry until V8 rehashes, which made this tracker quadratic.)
  const seen = new Map<string, number>();
  const ids: (string | undefined)[] = new Array(window).fill(undefined);
  const digests: string[] = new Array(window).fill('');
  const topics: string[] = new Array(window).fill('');
  const partitions: number[] = new Array(window).fill(0);
  const offsets: string[] = new Array(window).fill('');
  let next = 0;
  return (rows) => {
    for (const r of rows) {
      const at = seen.get(r.event_id);
      if (at === undefined) {
        const oldest = ids[next];
        if (oldest !== undefined) seen.delete(oldest);
        ids[next] = r.event_id;
        digests[next] = contentDigest(r);
        topics[next] = r.kafka_topic;
        partitions[next] = r.kafka_partition;
        offsets[next] = r.kafka_offset;
        seen.set(r.event_id, next);
        next = next + 1 === window ? 0 : next + 1;
        continue;
      }
      const prev = { topic: topics[at] as string, partition: partitions[at] as number, offset: offsets[at] as string, digest: digests[at] as string };
      if (prev.topic === r.kafka_topic && prev.partition === r.kafka_partition && prev.offset === r.kafka_offset) continue;
      const kind = contentDigest(r) === prev.digest ? 'duplicate' : 'conflict';
      deps.metrics.eventIdReuse.inc({ kind });
      if (kind === 'conflict')
        deps.logger.warn(
          {
            event_id: r.event_id,
            first: { topic: prev.topic, partition: prev.partition, offset: prev.offset },
            reused_at: { topic: r.kafka_topic, partition: r.kafka_partition, offset: r.kafka_offset },
          },
          'a message reused the event_id of an earlier one with different content: both are stored; queries show the first received, verify names the conflict',
        );
    }
  };
}
