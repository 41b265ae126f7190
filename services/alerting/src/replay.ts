import { randomUUID } from 'node:crypto';
import { AuditstreamError } from '@auditstream/core';
import type { Admin, Kafka, KafkaMessage } from 'kafkajs';

export interface Range {
  partition: number;
  /** First offset to read. */
  from: string;
  /** Offset to stop before (exclusive). */
  to: string;
}

/**
 * Reads exact offset ranges of a topic, outside the service's consumer group: a throwaway
 * group gets its offsets set to `from` with the admin before it joins (kafkajs has no
 * manual partition assignment), reads until every partition reaches `to`, commits
 * nothing, and is deleted afterwards.
 */
export async function readRanges(options: {
  kafka: Kafka;
  admin: Admin;
  topic: string;
  ranges: Range[];
  groupPrefix: string;
  timeoutMs: number;
  onMessage: (message: KafkaMessage, partition: number) => void | Promise<void>;
}): Promise<number> {
  const ranges = options.ranges.filter((r) => BigInt(r.from) < BigInt(r.to));
  if (ranges.length === 0) return 0;
  const groupId = `${options.groupPrefix}-replay-${randomUUID()}`;
  await options.admin.setOffsets({ groupId, topic: options.topic, partitions: ranges.map((r) => ({ partition: r.partition, offset: r.from })) });
  const consumer = options.kafka.consumer({ groupId, maxBytesPerPartition: 512 * 1024, allowAutoTopicCreation: false, maxWaitTimeInMs: 250 });
  const pending = new Map(ranges.map((r) => [r.partition, BigInt(r.to)]));
  let count = 0;
  let timer: NodeJS.Timeout | undefined;
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [options.topic], fromBeginning: false });
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new AuditstreamError('REPLAY_TIMEOUT', `re-reading ${options.topic} did not finish within ${options.timeoutMs} ms`, {
              retriable: true,
              field: 'alerting.replay_timeout_ms',
            }),
          ),
        options.timeoutMs,
      );
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch, heartbeat }) => {
            const end = pending.get(batch.partition);
            if (end === undefined) return;
            for (const m of batch.messages) {
              if (BigInt(m.offset) >= end) break;
              await options.onMessage(m, batch.partition);
              count++;
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
  } finally {
    if (timer) clearTimeout(timer);
    await consumer.disconnect().catch(() => undefined);
    await options.admin.deleteGroups([groupId]).catch(() => undefined);
  }
  return count;
}

/** Offsets of each partition at a timestamp (the high watermark where no record is that new). */
export async function offsetsAt(admin: Admin, topic: string, timestampMs: number): Promise<Map<number, string>> {
  const res = await admin.fetchTopicOffsetsByTimestamp(topic, Math.max(0, Math.floor(timestampMs)));
  return new Map(res.map((p) => [p.partition, p.offset]));
}

export async function highWatermarks(admin: Admin, topic: string): Promise<Map<number, { low: string; high: string }>> {
  const res = await admin.fetchTopicOffsets(topic);
  return new Map(res.map((p) => [p.partition, { low: p.low, high: p.high }]));
}
