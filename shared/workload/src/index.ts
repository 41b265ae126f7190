import { type ClickHouse, countEvents } from '@auditstream/clickhouse';
import { uuidv7 } from '@auditstream/core';
import { createAuditProducer, type PublishInput } from '@auditstream/producer';
import type { Kafka } from 'kafkajs';

/**
 * The synthetic audit events `auditstream bench` and the integration tests publish: realistic
 * enough to exercise every ingest stage (geo-resolvable IPs, real user agents, an e-mail in the
 * reason for redaction), deterministic in everything but the event id.
 */
const UAS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1',
];
const IPS = ['81.2.69.142', '8.8.8.8', '2a02:8070::1', '10.0.0.7'];

export function sampleInput(tenant: string, i: number): PublishInput & { event_id: string } {
  return {
    event_id: uuidv7(),
    tenant_id: tenant,
    actor: { id: `user-${i % 997}`, type: 'user', name: `User ${i % 997}`, ip: IPS[i % IPS.length] as string, user_agent: UAS[i % UAS.length] as string },
    action: i % 10 === 0 ? 'auth.login' : 'document.read',
    category: i % 10 === 0 ? 'authentication' : 'resource_access',
    outcome: i % 10 === 0 ? 'failure' : 'success',
    reason: i % 10 === 0 ? `bad password for user${i}@example.com` : null,
    service: 'bench',
    resource: { type: 'document', id: `doc-${i % 5000}`, name: null },
    attributes: { seq: String(i), http_method: 'GET' },
  };
}

/** Publishes n sample events (numbered from `from`) through the SDK (acks=all) and returns their ids. */
export async function publishEvents(kafka: Kafka, topic: string, tenant: string, n: number, from = 0): Promise<string[]> {
  const producer = createAuditProducer({ kafka, topic, max_buffer_events: 50_000, linger_ms: 5 });
  await producer.connect();
  const ids: string[] = [];
  const chunk = 5000;
  try {
    for (let start = from; start < from + n; start += chunk) {
      const batch = Array.from({ length: Math.min(chunk, from + n - start) }, (_, k) => sampleInput(tenant, start + k));
      for (const e of batch) ids.push(e.event_id);
      await producer.publishMany(batch);
    }
  } finally {
    await producer.close();
  }
  return ids;
}

const ALL_TIME = { from: 0, to: 4_000_000_000_000_000 };

/** How many of a tenant's events are stored: the project's count query (distinct event ids). */
export async function countStored(ch: ClickHouse, tenant: string): Promise<number> {
  return countEvents(ch, { tenant_id: tenant, ...ALL_TIME });
}
