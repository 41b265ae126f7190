import { committedOffsets, rangesToEnd, readRanges, topicWatermarks, withAdmin } from '@auditstream/kafka';
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
  return withAdmin(kafka, async (admin) => {
    if (!(await admin.listTopics()).includes(topic)) return undefined;
    const out: TopicCheckpoints = { byPartition: new Map(), messages: 0, unreadable: 0 };
    const seen = new Map<string, Set<string>>();
    await readRanges({
      kafka,
      admin,
      topic,
      ranges: await rangesToEnd(admin, topic),
      groupPrefix: 'auditstream-verify',
      timeoutMs: options.timeout_ms ?? 120_000,
      onMessage: (m) => {
        out.messages++;
        const c = parseCheckpointMessage(m.value);
        if (!c) {
          out.unreadable++;
          return;
        }
        const k = partitionKey(c.topic, c.partition);
        let sigs = seen.get(k);
        if (!sigs) {
          sigs = new Set();
          seen.set(k, sigs);
        }
        if (sigs.has(c.signature)) return;
        sigs.add(c.signature);
        const list = out.byPartition.get(k);
        if (list) list.push(c);
        else out.byPartition.set(k, [c]);
      },
    });
    return out;
  });
}

/** High watermark (next offset Kafka will assign) per partition; undefined when the topic does not exist. */
export async function readHighWatermarks(kafka: Kafka, topic: string): Promise<Map<number, bigint> | undefined> {
  return withAdmin(kafka, async (admin) => {
    if (!(await admin.listTopics()).includes(topic)) return undefined;
    return new Map([...(await topicWatermarks(admin, topic))].map(([p, m]) => [p, BigInt(m.high)]));
  });
}

/** A consumer group's committed offset per partition of a topic (partitions without a commit are left out). */
export async function readCommittedOffsets(kafka: Kafka, groupId: string, topic: string): Promise<Map<number, bigint>> {
  return withAdmin(kafka, async (admin) => new Map([...(await committedOffsets(admin, groupId, topic))].map(([p, o]) => [p, BigInt(o)])));
}
