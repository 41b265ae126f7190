import type { KafkaMessage } from 'kafkajs';

/**
 * Per events partition, the next offset this process has not evaluated yet. A record below it
 * is never evaluated twice, whether it comes from a replay (replay.ts) or from the group
 * re-delivering uncommitted records (consumer.ts).
 */
export class EvaluatedOffsets {
  private readonly next = new Map<number, bigint>();

  get(partition: number): bigint | undefined {
    return this.next.get(partition);
  }

  /** Evaluates the record unless this process already did; returns whether it was evaluated. */
  async once(partition: number, m: KafkaMessage, evaluate: (m: KafkaMessage, partition: number) => Promise<void>): Promise<boolean> {
    const off = BigInt(m.offset);
    const seen = this.next.get(partition);
    if (seen !== undefined && off < seen) return false;
    await evaluate(m, partition);
    this.next.set(partition, off + 1n);
    return true;
  }
}
