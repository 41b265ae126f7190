import { AuditstreamError } from '@auditstream/core';
import { rangesToEnd, readRanges, withAdmin } from '@auditstream/kafka';
import type { IHeaders, Kafka, KafkaMessage } from 'kafkajs';
import { DLQ_HEADERS } from '../pipeline/dlq.js';

/** One message of the dead-letter topic, with what ingest said about it. */
export interface DlqEntry {
  partition: number;
  offset: string;
  /** The original message's timestamp (ms), from x-auditstream-source-timestamp. */
  sourceTimestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: IHeaders;
  bytes: number;
  errorClass: string;
  errorMessage: string;
  sourceTopic: string;
  sourcePartition: string;
  sourceOffset: string;
  firstSeen: string;
}

export interface ScanOptions {
  /** Most entries returned (after filtering). */
  limit?: number;
  /** Start every partition at this offset (default: the earliest retained). */
  fromOffset?: string;
  filter?: (e: DlqEntry) => boolean;
  /** The scan must reach the end of the topic within this; else it rejects with a retriable KAFKA_READ_TIMEOUT. */
  timeoutMs?: number;
}

function header(h: IHeaders, name: string): string {
  const v = h[name];
  const one = Array.isArray(v) ? v[0] : v;
  return one === undefined ? '' : String(one);
}

/**
 * Reads the dead-letter topic up to its current end, with a throwaway consumer group that
 * never commits (and is deleted afterwards): inspecting changes nothing.
 */
export async function scanDlq(kafka: Kafka, topic: string, options: ScanOptions = {}): Promise<DlqEntry[]> {
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  const out: DlqEntry[] = [];
  await withAdmin(kafka, async (admin) => {
    const ranges = await rangesToEnd(admin, topic, options.fromOffset).catch((cause) => {
      throw new AuditstreamError('DLQ_UNAVAILABLE', `cannot read the offsets of topic ${topic}: ${(cause as Error).message}`, { cause });
    });
    if (limit <= 0) return;
    await readRanges({
      kafka,
      admin,
      topic,
      ranges,
      groupPrefix: 'auditstream-dlq-scan',
      timeoutMs: options.timeoutMs ?? 30_000,
      onMessage: (m, partition) => {
        const e = dlqEntry(m, partition);
        if (!options.filter || options.filter(e)) out.push(e);
        return out.length < limit;
      },
    });
  });
  return out.sort((a, b) => a.partition - b.partition || (BigInt(a.offset) < BigInt(b.offset) ? -1 : 1));
}

function dlqEntry(m: KafkaMessage, partition: number): DlqEntry {
  const headers = m.headers ?? {};
  return {
    partition,
    offset: m.offset,
    sourceTimestamp: header(headers, DLQ_HEADERS.sourceTimestamp) || m.timestamp,
    key: m.key ?? null,
    value: m.value ?? null,
    headers,
    bytes: m.value?.length ?? 0,
    errorClass: header(headers, DLQ_HEADERS.errorClass) || '(none)',
    errorMessage: header(headers, DLQ_HEADERS.errorMessage),
    sourceTopic: header(headers, DLQ_HEADERS.sourceTopic),
    sourcePartition: header(headers, DLQ_HEADERS.sourcePartition),
    sourceOffset: header(headers, DLQ_HEADERS.sourceOffset),
    firstSeen: header(headers, DLQ_HEADERS.firstSeen),
  };
}

/** Counts by error class, most frequent first. */
export function countByClass(entries: readonly DlqEntry[]): { errorClass: string; count: number }[] {
  const m = new Map<string, number>();
  for (const e of entries) m.set(e.errorClass, (m.get(e.errorClass) ?? 0) + 1);
  return [...m].map(([errorClass, count]) => ({ errorClass, count })).sort((a, b) => b.count - a.count || a.errorClass.localeCompare(b.errorClass));
}

/** A human-readable report: one line per entry (never the payload), then counts by class. */
export function formatDlqReport(entries: readonly DlqEntry[], topic: string): string {
  if (entries.length === 0) return `${topic}: no dead letters.`;
  const rows = entries.map((e) => [
    `${e.partition}:${e.offset}`,
    e.errorClass,
    e.sourceTopic ? `${e.sourceTopic}/${e.sourcePartition}@${e.sourceOffset}` : '-',
    e.firstSeen || '-',
    String(e.bytes),
    e.errorMessage,
  ]);
  const head = ['dlq offset', 'class', 'source', 'first seen', 'bytes', 'why'];
  const widths = head.map((h, i) => (i === head.length - 1 ? 0 : Math.max(h.length, ...rows.map((r) => (r[i] as string).length))));
  const fmt = (r: string[]) => r.map((v, i) => (i === r.length - 1 ? v : v.padEnd(widths[i] as number))).join('  ');
  const counts = countByClass(entries)
    .map((c) => `  ${c.errorClass.padEnd(16)} ${c.count}`)
    .join('\n');
  return [fmt(head), ...rows.map(fmt), '', `${entries.length} dead letter(s) in ${topic}, by error class:`, counts].join('\n');
}

export interface ReplayOptions {
  /** `partition:offset` of the dead letters to replay. */
  offsets?: readonly string[];
  errorClass?: string;
  limit?: number;
}

/** Parses `0:12,0:13,3:7` (or one per flag) into a set of `partition:offset` keys. */
export function parseOffsetList(values: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const v of values.flatMap((x) => x.split(','))) {
    const t = v.trim();
    if (!t) continue;
    const m = /^(\d+):(\d+)$/.exec(t);
    if (!m) throw new AuditstreamError('USAGE', `--offsets takes partition:offset pairs (e.g. 0:12,3:7), got "${t}"`, { field: 'offsets' });
    out.add(`${Number(m[1])}:${BigInt(m[2] as string).toString()}`);
  }
  return out;
}

/**
 * Re-publishes chosen dead letters to the events topic: original key and value, original
 * timestamp, original headers without ingest's error and source headers (first-seen is kept,
 * so a message that fails again keeps its history), plus x-auditstream-replayed-from. Acknowledged by all
 * in-sync replicas before it returns; the dead letters stay in the DLQ (it is a log).
 */
export async function replayDlq(
  kafka: Kafka,
  topics: { dlq: string; events: string },
  options: ReplayOptions,
): Promise<{ replayed: DlqEntry[]; missing: string[]; skipped: DlqEntry[] }> {
  const wanted = options.offsets ? parseOffsetList(options.offsets) : undefined;
  if (!wanted && !options.errorClass)
    throw new AuditstreamError('USAGE', 'say what to replay: --offsets p:o[,p:o...] or --error-class <class>', { field: 'offsets' });
  const found = await scanDlq(kafka, topics.dlq, {
    ...(options.limit !== undefined ? { limit: options.limit } : {}),
    filter: (e) => (!wanted || wanted.has(`${e.partition}:${e.offset}`)) && (!options.errorClass || e.errorClass === options.errorClass),
  });
  const missing = wanted ? [...wanted].filter((k) => !found.some((e) => `${e.partition}:${e.offset}` === k)) : [];
  // A dead letter published without its value (too large for the DLQ) cannot be replayed from here.
  const skipped = found.filter((e) => e.value === null);
  const entries = found.filter((e) => e.value !== null);
  if (entries.length === 0) return { replayed: [], missing, skipped };
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer.connect();
  try {
    const strip = new Set<string>([
      DLQ_HEADERS.errorClass,
      DLQ_HEADERS.errorMessage,
      DLQ_HEADERS.sourceTopic,
      DLQ_HEADERS.sourcePartition,
      DLQ_HEADERS.sourceOffset,
      DLQ_HEADERS.sourceTimestamp,
    ]);
    await producer.send({
      topic: topics.events,
      acks: -1,
      messages: entries.map((e) => {
        const headers: IHeaders = {};
        for (const [k, v] of Object.entries(e.headers)) if (!strip.has(k) && v !== undefined) headers[k] = v;
        headers['x-auditstream-replayed-from'] = `${topics.dlq}:${e.partition}:${e.offset}`;
        // The original timestamp too: validation judges occurred_at against it, as it did the first time.
        return { key: e.key, value: e.value, headers, timestamp: e.sourceTimestamp };
      }),
    });
  } finally {
    await producer.disconnect();
  }
  return { replayed: entries, missing, skipped };
}
