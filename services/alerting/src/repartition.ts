import { AuditstreamError, retry } from '@auditstream/core';
import type { Logger } from '@auditstream/observability';
import type { Admin, Kafka, Message } from 'kafkajs';
import type { AlertingConfig } from './config.js';
import { allCaughtUp, ensureCommittedOffsets, partitionLags } from './consumer.js';
import type { Admission } from './gate.js';
import type { AlertingMetrics } from './metrics.js';
import { routeEvent } from './route.js';
import type { Rule } from './rules/types.js';

/**
 * The repartition stage of scale-out (docs/alerting.md#scaling-out), Kafka Streams' way: events
 * arrive keyed by tenant:actor, but a rule counts per its own group key (source IP, service,
 * producer). This stage consumes the events topic in group `<consumer_group>.repartition` and
 * copies each event, unchanged (bytes, headers, timestamp), to every partition of the
 * repartition topic that one of the rules' group keys for it hashes to (route.ts). The
 * evaluating stage consumes that topic, so all events of a group key meet in one instance.
 *
 * Nothing lost: a batch's source offsets are resolved (and so committed) only after its copies
 * were acknowledged by all in-sync replicas (idempotent producer, acks=all). Nothing doubled
 * in effect: a crash between the write and the commit re-copies those records, and the engine
 * drops a repeated event id per partition before any rule counts it (the same check that
 * absorbs producer retries), while event_loss treats a repeated number as a duplicate.
 */

export interface RepartitionerOptions {
  kafka: Kafka;
  admin: Admin;
  config: AlertingConfig;
  /** topics.events */
  source: string;
  /** The repartition topic and its partition count (the one every instance routes by). */
  target: string;
  partitions: number;
  /** The rules in force (their group keys decide the routing; read per batch, so a reload applies). */
  rules: () => readonly Rule[];
  admit: (value: Buffer | null, timestampMs: number) => Promise<Admission>;
  metrics: Pick<AlertingMetrics, 'discarded' | 'repartitioned'>;
  log: Logger;
  /** The stage's consumer crashed and kafkajs will not restart it. */
  onFatal?: () => void;
}

export interface Repartitioner {
  /** Every assigned source partition has a known lag within caught_up_lag_events of its end. */
  caughtUp(): boolean;
  /** Re-reads the high watermarks (the lag of partitions without a recent batch). */
  updateLag(): Promise<void>;
  disconnect(): Promise<void>;
}

export async function startRepartitioner(o: RepartitionerOptions): Promise<Repartitioner> {
  const { kafka, admin, config, source, target, partitions, log } = o;
  const group = `${config.consumer_group}.repartition`;
  await retry(() => ensureCommittedOffsets(admin, { group, topic: source, startFrom: config.start_from }, log), {
    max_attempts: 20,
    initial_delay_ms: 200,
    max_delay_ms: 3000,
    onRetry: (err, attempt) => log.warn({ err: (err as Error).message, attempt }, 'fetching committed offsets of the repartition stage failed; retrying'),
  });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  const consumer = kafka.consumer({
    groupId: group,
    allowAutoTopicCreation: false,
    sessionTimeout: config.session_timeout_ms,
    heartbeatInterval: Math.min(3000, Math.floor(config.session_timeout_ms / 3)),
  });
  let lag = new Map<number, number>();
  let assigned: number[] = [];
  /** Per source partition, the next offset to copy (after the last one resolved). */
  const copiedNext = new Map<number, bigint>();
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    assigned = (e.payload.memberAssignment[source] ?? []).slice();
    log.info({ group, partitions: assigned }, 'repartition stage joined');
  });
  consumer.on(consumer.events.CRASH, (e) => {
    log.error({ err: e.payload.error, restart: e.payload.restart }, 'repartition consumer crashed');
    if (!e.payload.restart) o.onFatal?.();
  });
  try {
    await producer.connect();
    await consumer.connect();
    await consumer.subscribe({ topics: [source], fromBeginning: config.start_from === 'earliest' });
    await consumer.run({
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale }) => {
        const rules = o.rules();
        const out: Message[] = [];
        let last: string | undefined;
        for (const m of batch.messages) {
          if (!isRunning() || isStale()) break;
          last = m.offset;
          const a = await o.admit(m.value, Number(m.timestamp));
          if (!a.ok) o.metrics.discarded.inc({ reason: a.reason });
          if (!a.event) continue;
          for (const [partition, key] of routeEvent(rules, a.event, partitions, !a.ok)) {
            out.push({ partition, key, value: m.value, timestamp: m.timestamp, headers: m.headers ?? {} });
          }
        }
        if (last === undefined) return;
        // The copies first, the source offset after: a crash in between re-copies, never skips.
        // In bounded requests, in order: a backlog's batch of thousands of events makes ~4 copies each,
        // which in one request broke the broker's message.max.bytes (1 MiB) and crashed the stage.
        for (const chunk of chunkByBytes(out, SEND_MAX_BYTES)) await producer.send({ topic: target, acks: -1, messages: chunk });
        o.metrics.repartitioned.inc(out.length);
        resolveOffset(last);
        copiedNext.set(batch.partition, BigInt(last) + 1n);
        lag.set(batch.partition, Math.max(0, Number(batch.highWatermark) - Number(last) - 1));
        await commitOffsetsIfNecessary();
        await heartbeat();
      },
    });
  } catch (err) {
    await consumer.disconnect().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    throw err;
  }
  return {
    caughtUp: () => allCaughtUp(assigned, lag, config.caught_up_lag_events),
    async updateLag() {
      if (assigned.length === 0) return;
      lag = await partitionLags(admin, { group, topic: source, partitions: assigned, readNext: (p) => copiedNext.get(p) });
    },
    async disconnect() {
      await consumer.disconnect().catch((err) => log.warn({ err }, 'repartition consumer disconnect failed'));
      await producer.disconnect().catch(() => undefined);
    },
  };
}

/** Bytes of copies per produce request: well under Kafka's default message.max.bytes (1 MiB) per partition batch. */
export const SEND_MAX_BYTES = 256 * 1024;

/** Consecutive runs of messages of at most `maxBytes` (value, key and record overhead), in order; a larger message alone. */
export function chunkByBytes(messages: readonly Message[], maxBytes: number): Message[][] {
  const out: Message[][] = [];
  let cur: Message[] = [];
  let bytes = 0;
  for (const m of messages) {
    const size = (m.value?.length ?? 0) + (typeof m.key === 'string' ? Buffer.byteLength(m.key) : (m.key?.length ?? 0)) + 64;
    if (cur.length > 0 && bytes + size > maxBytes) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(m);
    bytes += size;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/** The repartition topic's name: the configured one, else `<events>.alerting-repartition`. */
export function repartitionTopicName(config: Pick<AlertingConfig, 'repartition_topic'>, events: string): string {
  return config.repartition_topic || `${events}.alerting-repartition`;
}

/**
 * Creates the repartition topic when missing (an internal topic, owned by alerting like Kafka
 * Streams owns its own): as many partitions as repartition_partitions, else as topics.events,
 * and the events topic's replication. Returns its actual partition count, which every instance
 * routes by.
 */
export async function ensureRepartitionTopic(a: Admin, o: { topic: string; events: string; partitions: number; log: Logger }): Promise<number> {
  const count = async (topic: string) => {
    const md = await a.fetchTopicMetadata({ topics: [topic] });
    const parts = md.topics[0]?.partitions ?? [];
    return { partitions: parts.length, replicas: parts[0]?.replicas.length ?? 1 };
  };
  if (!(await a.listTopics()).includes(o.topic)) {
    const ev = await count(o.events);
    const partitions = o.partitions > 0 ? o.partitions : ev.partitions;
    // false when another instance created it first: fine, it is read back below.
    const created = await a.createTopics({ topics: [{ topic: o.topic, numPartitions: partitions, replicationFactor: ev.replicas }], waitForLeaders: true });
    if (created) o.log.info({ topic: o.topic, partitions }, 'repartition topic created');
  }
  return retry(
    async () => {
      const { partitions } = await count(o.topic);
      if (partitions < 1)
        throw new AuditstreamError('TOPIC_NOT_READY', `repartition topic ${o.topic} has no partitions yet`, {
          retriable: true,
          field: 'alerting.repartition_topic',
        });
      return partitions;
    },
    { max_attempts: 10, initial_delay_ms: 200, max_delay_ms: 2000 },
  );
}
