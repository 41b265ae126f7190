import { createCodec } from '@auditstream/codec';
import { uniqueName } from '@auditstream/core';
import { deleteTopics } from '@auditstream/kafka';
import type { AuditEventInput } from '@auditstream/schemas';
import type { Kafka } from 'kafkajs';
import type { AlertDelivery } from './alert.js';
import { decodeAlert } from './sinks/alert-codec.js';

/** Helpers of the alerting integration tests only (real Kafka on the configured brokers; nothing mocked); the generic ones are in @auditstream/test. */
export const codec = createCodec();

export async function createTopics(kafka: Kafka, prefix: string, partitions = 3) {
  const events = uniqueName(`${prefix}_events`);
  const alerts = uniqueName(`${prefix}_alerts`);
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: [
        { topic: events, numPartitions: partitions },
        { topic: alerts, numPartitions: 1 },
      ],
      waitForLeaders: true,
    });
  } finally {
    await admin.disconnect();
  }
  return {
    events,
    alerts,
    drop: () => deleteTopics(kafka, [events, alerts]),
  };
}

/** A login event (the kit's loginEvent), under the name these tests use. */
export { loginEvent as login } from '@auditstream/test';

export async function produce(kafka: Kafka, topic: string, events: AuditEventInput[]): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages: events.map((e) => ({ key: e.tenant_id, value: codec.encodeSync(e) })) });
  } finally {
    await producer.disconnect();
  }
}

/** Reads the whole alerts topic from the beginning. */
export async function readAlerts(kafka: Kafka, topic: string, waitMs: number): Promise<AlertDelivery[]> {
  const out: AlertDelivery[] = [];
  const consumer = kafka.consumer({ groupId: uniqueName('alerts_reader'), allowAutoTopicCreation: false, maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      if (message.value) out.push(decodeAlert(message.value));
    },
  });
  await new Promise((r) => setTimeout(r, waitMs));
  await consumer.disconnect();
  return out;
}
