import type { Admin, Kafka } from 'kafkajs';

/**
 * Offsets from the broker, per partition, as kafkajs gives them (decimal strings: int64 does
 * not fit a JS number). The one home for watermark and committed-offset reads.
 */
export interface Watermarks {
  /** First offset still retained. */
  low: string;
  /** High watermark: the next offset Kafka will assign. */
  high: string;
}

export async function topicWatermarks(admin: Admin, topic: string): Promise<Map<number, Watermarks>> {
  const res = await admin.fetchTopicOffsets(topic);
  return new Map(res.map((p) => [p.partition, { low: p.low, high: p.high }]));
}

/** Offsets of each partition at a timestamp (the high watermark where no record is that new). */
export async function offsetsAtTime(admin: Admin, topic: string, timestampMs: number): Promise<Map<number, string>> {
  const res = await admin.fetchTopicOffsetsByTimestamp(topic, Math.max(0, Math.floor(timestampMs)));
  return new Map(res.map((p) => [p.partition, p.offset]));
}

/** A consumer group's committed offset per partition of a topic (partitions without a commit are left out). */
export async function committedOffsets(admin: Admin, groupId: string, topic: string): Promise<Map<number, string>> {
  const res = await admin.fetchOffsets({ groupId, topics: [topic] });
  const out = new Map<number, string>();
  for (const t of res) for (const p of t.partitions) if (BigInt(p.offset) >= 0n) out.set(p.partition, p.offset);
  return out;
}

/** Runs `fn` with a connected admin client of its own, disconnected afterwards whatever happens. */
export async function withAdmin<T>(kafka: Kafka, fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
