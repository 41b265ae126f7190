import { type ClickHouse, layoutFor, parseClickHouseTime, type SqlFragment, sql, table } from '@auditstream/clickhouse';
import type { ClickHouseSettings } from '@clickhouse/client';
import { type EventQuery, eventsWhere, limitCount } from './scope-sql.js';

/**
 * Freshness (docs/api.md#freshness): the newest stored event per Kafka partition and per producer
 * among the events a caller may read. With the partition's lag (ingest metrics) it tells a stalled
 * pipeline (events waiting, newest stored is old) from a quiet one (nothing waiting).
 */

export interface PartitionFreshness {
  partition: number;
  /** Microseconds since the epoch (whole seconds on the legacy layout). */
  newest_event_us: bigint;
  /** When ingest stored the newest row, ms since the epoch. */
  newest_stored_ms: number;
  /** Distinct events. */
  events: number;
}

export interface ProducerFreshness {
  producer_id: string;
  service: string;
  newest_event_us: bigint;
  /** Highest producer_seq stored (the producer numbers 0, 1, 2, …). */
  max_seq: number;
  events: number;
}

// Legacy rows keep the milliseconds of ingested_at in a side column: the newest row's, by argMax.
function storedMsExpr(layout: ReturnType<typeof layoutFor>): SqlFragment {
  return layout === 'modern' ? sql`0` : sql`argMax(ingested_at_ms, ingested_at)`;
}

export async function freshness(
  ch: ClickHouse,
  query: EventQuery,
  options: { producers: number; settings?: ClickHouseSettings },
): Promise<{ partitions: PartitionFreshness[]; producers: ProducerFreshness[] }> {
  const caps = await ch.capabilities();
  const layout = layoutFor(caps);
  const where = eventsWhere(caps, ch.database, query);
  const events = table(ch.database, 'events');
  const settings = options.settings ? { settings: options.settings } : {};
  const pq = sql`SELECT kafka_partition AS partition, toString(max(occurred_at)) AS newest, toString(max(ingested_at)) AS stored, ${storedMsExpr(layout)} AS stored_ms, uniqExact(event_id) AS n
FROM ${events} WHERE ${where} GROUP BY kafka_partition ORDER BY kafka_partition`;
  const rq = sql`SELECT producer_id, any(service) AS service, toString(max(occurred_at)) AS newest, max(producer_seq) AS max_seq, uniqExact(event_id) AS n
FROM ${events} WHERE ${where} AND producer_id != '' GROUP BY producer_id ORDER BY max(occurred_at) DESC, producer_id LIMIT ${limitCount(options.producers)}`;
  type Row = { newest: string; n: number | string };
  const [prows, rrows] = await Promise.all([
    ch.queryRows<Row & { partition: number | string; stored: string; stored_ms: number | string }>(pq, { operation: 'api_freshness', ...settings }),
    ch.queryRows<Row & { producer_id: string; service: string; max_seq: number | string }>(rq, { operation: 'api_freshness', ...settings }),
  ]);
  return {
    partitions: prows.map((r) => ({
      partition: Number(r.partition),
      newest_event_us: parseClickHouseTime(r.newest),
      newest_stored_ms: Number(parseClickHouseTime(r.stored) / 1000n) + Number(r.stored_ms),
      events: Number(r.n),
    })),
    producers: rrows.map((r) => ({
      producer_id: r.producer_id,
      service: r.service,
      newest_event_us: parseClickHouseTime(r.newest),
      max_seq: Number(r.max_seq),
      events: Number(r.n),
    })),
  };
}
