import {
  type ClickHouse,
  classifyClickHouseError,
  type EventRow,
  insertEventRows,
  type Layout,
  layoutFor,
  recordDuplicates,
  toRow,
} from '@auditstream/clickhouse';
import type { StorageWriter } from './pipeline/sink.js';
import type { IngestRecord } from './types.js';

/**
 * Ingest's view of the storage module: its row mapping (toRow for the server's layout) and
 * one JSONEachRow INSERT, the duplicate record due before the commit, with their error classification.
 *
 * Every column is a function of the Kafka message (and the ingest configuration): received_at
 * is the Kafka message timestamp and so is ingested_at (the ReplacingMergeTree version), so a
 * redelivered message produces a byte-identical row, which the tamper-evident chain needs.
 * The wall-clock insert time is observed, not stored: auditstream_ingest_end_to_end_delay_seconds.
 */
export function recordMeta(r: IngestRecord) {
  return {
    received_at: r.receivedAtMs,
    ingested_at: r.receivedAtMs,
    kafka_topic: r.source.topic,
    kafka_partition: r.source.partition,
    kafka_offset: r.source.offset,
    // The columns the enrichment steps declare (the storage row mapping places them).
    ...r.enrichment,
  };
}

export function clickhouseWriter(ch: ClickHouse, layout: Layout, options: { signal?: AbortSignal } = {}): StorageWriter<EventRow> {
  return {
    toRow: (r) => toRow(r.event, recordMeta(r), layout),
    insert: (rows) => insertEventRows(ch, rows, { operation: 'ingest_insert', ...(options.signal ? { abortSignal: options.signal } : {}) }),
    afterInsert: (rows) => recordDuplicates(ch, rows, { ...(options.signal ? { abortSignal: options.signal } : {}) }),
    classify: (err) => classifyClickHouseError(err, { operation: 'insert into events' }),
  };
}

/** The layout of the connected server (detected once, cached by the client). */
export async function detectLayout(ch: ClickHouse): Promise<Layout> {
  return layoutFor(await ch.capabilities());
}
