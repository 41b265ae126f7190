import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createCodec } from '@auditstream/codec';
import { uniqueName, uuidv7 } from '@auditstream/core';
import { createKafkaClient } from '@auditstream/kafka';
import type { AuditEventInput } from '@auditstream/schemas';
import type { Kafka } from 'kafkajs';
import type { AlertDelivery } from './alert.js';
import { loadAlertingConfig } from './config.js';
import { decodeAlert } from './sinks/alert-codec.js';
import { signBody } from './sinks/webhook.js';

/** Helpers for the alerting integration tests (real Kafka on the configured brokers; nothing mocked). */
export const codec = createCodec();

export function kafkaClient(component: string): Kafka {
  return createKafkaClient(loadAlertingConfig(undefined).kafka, { component });
}

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
    async drop() {
      const a = kafka.admin();
      await a.connect();
      await a.deleteTopics({ topics: [events, alerts] }).catch(() => undefined);
      await a.disconnect();
    },
  };
}

export function login(actor: string, ip: string, outcome: 'success' | 'failure', atMs = Date.now(), tenant = 'acme'): AuditEventInput {
  return {
    event_id: uuidv7(atMs),
    tenant_id: tenant,
    occurred_at: Math.round(atMs * 1000),
    actor: { id: actor, type: 'user', ip },
    action: 'auth.login',
    category: 'authentication',
    outcome,
    service: 'idp',
  };
}

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

export async function waitUntil(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const started = Date.now();
  while (!(await cond())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface WebhookHit {
  kind: string;
  alert: { alert_id: string; rule_id: string; group: Record<string, string>; count: number };
  receivedAt: number;
}

/** A webhook receiver on 127.0.0.1 that verifies the HMAC signature and rejects what does not verify. */
export async function webhookReceiver(secret: string) {
  const hits: WebhookHit[] = [];
  let rejected = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (req.headers['x-auditstream-signature'] !== signBody(secret, body)) {
        rejected++;
        res.writeHead(401).end();
        return;
      }
      hits.push({ ...(JSON.parse(body.toString('utf8')) as Omit<WebhookHit, 'receivedAt'>), receivedAt: Date.now() });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    hits,
    rejected: () => rejected,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}
