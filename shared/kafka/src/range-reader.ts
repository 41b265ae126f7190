import { randomUUID } from 'node:crypto';
import { AuditstreamError, withTimeout } from '@auditstream/core';
import type { Admin, Kafka, KafkaMessage } from 'kafkajs';
import { topicWatermarks } from './offsets.js';

export interface OffsetRange {
  partition: number;
  /** First offset to read. */
  from: string;
  /** Offset to stop before (exclusive). */
  to: string;
}

export interface ReadRangesOptions {
  kafka: Kafka;
  admin: Admin;
  topic: string;
  ranges: readonly OffsetRange[];
  /** Prefix of the throwaway consumer group's id. */
  groupPrefix: string;
  /** The whole read must finish within this; else it rejects with a retriable KAFKA_READ_TIMEOUT. */
  timeoutMs: number;
  /** Called in offset order per partition. Returning false stops the read early (e.g. a limit reached). */
  onMessage: (message: KafkaMessage, partition: number) => unknown;
}

/**
 * Reads exact offset ranges of a topic, outside any service's consumer group: a throwaway group
 * gets its offsets set to `from` with the admin before it joins (kafkajs has no manual partition
 * assignment), reads until every partition reaches `to` (or `onMessage` says stop), commits
 * nothing, and is deleted afterwards. Resolves with the number of messages handed to onMessage.
 */
export async function readRanges(options: ReadRangesOptions): Promise<number> {
  const ranges = options.ranges.filter((r) => BigInt(r.from) < BigInt(r.to));
  if (ranges.length === 0) return 0;
  const { topic, admin } = options;
  const groupId = `${options.groupPrefix}-range-${randomUUID()}`;
  await admin.setOffsets({ groupId, topic, partitions: ranges.map((r) => ({ partition: r.partition, offset: r.from })) });
  const consumer = options.kafka.consumer({ groupId, maxBytesPerPartition: 512 * 1024, allowAutoTopicCreation: false, maxWaitTimeInMs: 250 });
  const pending = new Map(ranges.map((r) => [r.partition, BigInt(r.to)]));
  let count = 0;
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: false });
    const finished = new Promise<void>((resolve, reject) => {
      // A crash kafkajs does not restart from (an error onMessage throws, a corrupt batch) ends the
      // read with that error, rather than with a retriable timeout that would hide it.
      consumer.on(consumer.events.CRASH, (e) => {
        if (e.payload.restart) return;
        // kafkajs wraps what a handler threw in a KafkaJSNonRetriableError: hand back the handler's own error.
        const err = e.payload.error as Error & { cause?: unknown };
        reject(err.name === 'KafkaJSNonRetriableError' && err.cause !== undefined ? err.cause : err);
      });
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch, heartbeat, isRunning }) => {
            const end = pending.get(batch.partition);
            if (end === undefined) return;
            for (const m of batch.messages) {
              if (!isRunning() || BigInt(m.offset) >= end) break;
              count++;
              if ((await options.onMessage(m, batch.partition)) === false) {
                pending.clear();
                return resolve();
              }
            }
            await heartbeat();
            if (batch.messages.length > 0 && BigInt(batch.lastOffset()) + 1n >= end) {
              pending.delete(batch.partition);
              if (pending.size === 0) resolve();
            }
          },
        })
        .catch(reject);
    });
    await withTimeout(finished, options.timeoutMs, () => {
      throw new AuditstreamError('KAFKA_READ_TIMEOUT', `reading ${topic} did not finish within ${options.timeoutMs} ms`, { retriable: true });
    });
  } finally {
    await consumer.disconnect().catch(() => undefined);
    await admin.deleteGroups([groupId]).catch(() => undefined);
  }
  return count;
}

/**
 * Each partition's retained messages up to the current end, from `fromOffset` where that is
 * later than the first retained offset: the ranges that read a whole topic as it is now.
 */
export async function rangesToEnd(admin: Admin, topic: string, fromOffset?: string): Promise<OffsetRange[]> {
  const from = fromOffset === undefined ? undefined : BigInt(fromOffset);
  const out: OffsetRange[] = [];
  for (const [partition, m] of await topicWatermarks(admin, topic)) {
    const start = from === undefined || from < BigInt(m.low) ? m.low : from.toString();
    if (BigInt(start) < BigInt(m.high)) out.push({ partition, from: start, to: m.high });
  }
  return out.sort((a, b) => a.partition - b.partition);
}
