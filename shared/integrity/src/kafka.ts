import { randomBytes } from 'node:crypto';
import { AuditstreamError } from '@auditstream/core';
import type { Kafka } from 'kafkajs';
import type { Checkpoint } from './checkpoint.js';
import { parseCheckpointMessage } from './checkpointer.js';
import { partitionKey } from './partitions.js';

export interface TopicCheckpoints {
  /** Checkpoints by `<events topic>\0<partition>`, in topic order (identical re-publications once). */
  byPartition: Map<string, Checkpoint[]>;
  messages: number;
  /** Messages that are not checkpoints (malformed JSON or fields). */
  unreadable: number;
}

/**
 * Reads the whole checkpoints topic from the beginning to its current end, with a throwaway
 * consumer group (deleted afterwards; nothing is committed). Returns undefined when the topic
 * does not exist.
 */
export async function readCheckpointsTopic(kafka: Kafka, topic: string, options: { timeout_ms?: number } = {}): Promise<TopicCheckpoints | undefined> {
  const admin = kafka.admin();
  await admin.connect();
  const groupId = `auditstream-verify-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  try {
    const topics = await admin.listTopics();
    if (!topics.includes(topic)) return undefined;
    const offsets = await admin.fetchTopicOffsets(topic);
    const end = new Map<number, bigint>();
    for (const o of offsets) if (BigInt(o.high) > BigInt(o.low)) end.set(o.partition, BigInt(o.high));
    const out: TopicCheckpoints = { byPartition: new Map(), messages: 0, unreadable: 0 };
    if (end.size === 0) return out;
    const seen = new Map<string, Set<string>>();
    const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, maxWaitTimeInMs: 500 });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new AuditstreamError('INTEGRITY_TOPIC_TIMEOUT', `reading the checkpoints topic ${topic} did not finish in time`, { retriable: true })),
          options.timeout_ms ?? 120_000,
        );
        consumer
          .run({
            autoCommit: false,
            eachBatch: async ({ batch }) => {
              for (const m of batch.messages) {
                out.messages++;
                const c = parseCheckpointMessage(m.value);
                if (!c) out.unreadable++;
                else {
                  const k = partitionKey(c.topic, c.partition);
                  let sigs = seen.get(k);
                  if (!sigs) {
                    sigs = new Set();
                    seen.set(k, sigs);
                  }
                  if (!sigs.has(c.signature)) {
                    sigs.add(c.signature);
                    const list = out.byPartition.get(k);
                    if (list) list.push(c);
                    else out.byPartition.set(k, [c]);
                  }
                }
                const stop = end.get(batch.partition);
                if (stop !== undefined && BigInt(m.offset) + 1n >= stop) end.delete(batch.partition);
              }
              if (end.size === 0) {
                clearTimeout(timer);
                resolve();
              }
            },
          })
          .catch(reject);
      });
    } finally {
      await consumer.disconnect().catch(() => {});
    }
    return out;
  } finally {
    await admin.deleteGroups([groupId]).catch(() => {});
    await admin.disconnect().catch(() => {});
  }
}

/** High watermark (next offset Kafka will assign) per partition; undefined when the topic does not exist. */
export async function readHighWatermarks(kafka: Kafka, topic: string): Promise<Map<number, bigint> | undefined> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    if (!(await admin.listTopics()).includes(topic)) return undefined;
    const offsets = await admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/** A consumer group's committed offset per partition of a topic (partitions without a commit are left out). */
export async function readCommittedOffsets(kafka: Kafka, groupId: string, topic: string): Promise<Map<number, bigint>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const res = await admin.fetchOffsets({ groupId, topics: [topic] });
    const out = new Map<number, bigint>();
    for (const t of res) for (const p of t.partitions) if (BigInt(p.offset) >= 0n) out.set(p.partition, BigInt(p.offset));
    return out;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}
