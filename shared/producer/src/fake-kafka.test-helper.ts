import type { Message, ProducerBatch, ProducerConfig, RecordMetadata } from 'kafkajs';
import type { KafkaProducerLike } from './producer.js';

/**
 * A stand-in for kafkajs in unit tests: runs the producer's partitioner like kafkajs does,
 * keeps per-partition logs, and answers with baseOffsets. `behaviour` can fail or stall.
 */
export interface FakeKafka {
  kafka: { producer: (config?: ProducerConfig) => KafkaProducerLike };
  logs: Map<number, Message[]>;
  calls: number;
  producersCreated: number;
  /** Return a value to replace the answer: an Error to throw, 'hang' to never answer, or partitions
   * to leave out of the answer (as kafkajs did during a leader failover). */
  behaviour: (call: number) => Error | 'hang' | { omit: number[] } | undefined;
  release(): void;
}

export function fakeKafka(partitions = 3): FakeKafka {
  const logs = new Map<number, Message[]>();
  const hung: Array<() => void> = [];
  const fake: FakeKafka = {
    logs,
    calls: 0,
    producersCreated: 0,
    behaviour: () => undefined,
    release() {
      for (const h of hung.splice(0)) h();
    },
    kafka: {
      producer(config?: ProducerConfig) {
        fake.producersCreated++;
        const partitioner = config?.createPartitioner?.();
        const partitionMetadata = Array.from({ length: partitions }, (_, i) => ({ partitionId: i, leader: 1, replicas: [1], isr: [1], partitionErrorCode: 0 }));
        return {
          connect: async () => {},
          disconnect: async () => {},
          async sendBatch(batch: ProducerBatch): Promise<RecordMetadata[]> {
            const call = ++fake.calls;
            const b = fake.behaviour(call);
            if (b === 'hang') await new Promise<void>((r) => hung.push(r));
            else if (b instanceof Error) throw b;
            const omit = b && b !== 'hang' ? b.omit : [];
            const out: RecordMetadata[] = [];
            for (const tm of batch.topicMessages ?? []) {
              const per = new Map<number, Message[]>();
              for (const m of tm.messages) {
                const p = partitioner ? partitioner({ topic: tm.topic, partitionMetadata, message: m }) : 0;
                per.set(p, [...(per.get(p) ?? []), m]);
              }
              for (const [p, msgs] of per) {
                const log = logs.get(p) ?? [];
                if (!omit.includes(p)) out.push({ topicName: tm.topic, partition: p, errorCode: 0, baseOffset: String(log.length) });
                log.push(...msgs);
                logs.set(p, log);
              }
            }
            return out;
          },
        } as KafkaProducerLike;
      },
    },
  };
  return fake;
}

export function kafkaError(message: string, extra: { type?: string; retriable?: boolean; name?: string } = {}): Error {
  return Object.assign(new Error(message), { name: 'KafkaJSProtocolError', retriable: true, ...extra });
}
