import { contentDigest, type EventRow } from '@auditstream/clickhouse';
import type { Logger } from '@auditstream/observability';
import type { IngestMetrics } from '../metrics.js';

/** Event ids remembered per ingest process (≈ 150 B each): reuse further apart is found by `auditstream verify`. */
export const REUSE_WINDOW_EVENTS = 100_000;

interface Seen {
  digest: string;
  topic: string;
  partition: number;
  offset: string;
}

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
  const seen = new Map<string, Seen>();
  return (rows) => {
    for (const r of rows) {
      const prev = seen.get(r.event_id);
      if (prev === undefined) {
        seen.set(r.event_id, { digest: contentDigest(r), topic: r.kafka_topic, partition: r.kafka_partition, offset: r.kafka_offset });
        if (seen.size > window) seen.delete(seen.keys().next().value as string);
        continue;
      }
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
