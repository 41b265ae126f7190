// Shared by the API's integration tests: a migrated database of its own, seeded through the
// storage module, keys, a real SDK producer on a topic of its own, and a reader for that topic.

import { type AuditEventInput, type ClickHouse, createClickHouse, insertEvents, migrate } from '@auditstream/clickhouse';
import { createCodec } from '@auditstream/codec';
import { configSchema, loadConfig } from '@auditstream/config';
import { uniqueName, uuidv7 } from '@auditstream/core';
import { createKafkaClient, deleteTopics, ensureTopics } from '@auditstream/kafka';
import { createLogger, type Logger } from '@auditstream/observability';
import { type AuditProducer, createAuditProducer } from '@auditstream/producer';
import type { AuditEvent } from '@auditstream/schemas';
import type { Kafka } from 'kafkajs';
import type { SelfAuditEvent } from './plugins/audit-self.js';
import type { EventFilterInput } from './routes/filters.js';

export const baseConfig = loadConfig(configSchema, {});
export const testLogger: Logger = createLogger({ service: 'api-int-test', level: process.env.TEST_LOG_LEVEL ?? 'warn' });

export async function freshDatabase(prefix: string): Promise<{ ch: ClickHouse; database: string; drop: () => Promise<void> }> {
  const database = uniqueName(prefix);
  const ch = createClickHouse({ ...baseConfig.clickhouse, database }, { logger: testLogger, component: 'test' });
  await migrate(ch);
  return {
    ch,
    database,
    drop: async () => {
      await ch.command(`DROP DATABASE IF EXISTS \`${database}\``);
      await ch.close();
    },
  };
}

export const TENANTS = ['acme', 'beta', 'gamma'] as const;
const ACTIONS = ['auth.login', 'auth.logout', 'user.role.grant', 'user.role.revoke', 'document.read', 'document.delete'] as const;
const CATEGORY_OF: Record<string, AuditEventInput['category']> = {
  'auth.login': 'authentication',
  'auth.logout': 'authentication',
  'user.role.grant': 'authorization',
  'user.role.revoke': 'authorization',
  'document.read': 'resource_access',
  'document.delete': 'data_export',
};
const OUTCOMES = ['success', 'failure', 'denied', 'error'] as const;
const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const;
const ACTOR_TYPES = ['user', 'service', 'system', 'anonymous'] as const;

/** Values stored verbatim that look like SQL: searching for them must find exactly them. */
export const TRICKY_ACTOR = "o'brien\\x";
export const TRICKY_RESOURCE = "r'; DROP TABLE events; --";

/**
 * A deterministic event set: `n` events from `baseUs`, three per timestamp (ties ordered by
 * event_id), every field varying with its own period so that filters cut it differently.
 */
export function makeEvents(n: number, baseUs: number, stepUs = 61_000_123): AuditEventInput[] {
  const out: AuditEventInput[] = [];
  for (let i = 0; i < n; i++) {
    const action = ACTIONS[i % ACTIONS.length] as string;
    const occurred = baseUs + Math.floor(i / 3) * stepUs;
    out.push({
      event_id: uuidv7(Math.floor(occurred / 1000)),
      tenant_id: TENANTS[i % 3] as string,
      occurred_at: occurred,
      actor: {
        id: i === 5 ? TRICKY_ACTOR : `u${i % 17}`,
        type: ACTOR_TYPES[i % 4] as AuditEventInput['actor']['type'],
        ip: i % 10 === 0 ? `2001:db8::${i % 3}` : `10.0.${i % 5}.${i % 7}`,
        name: i % 2 ? `User ${i % 17}` : null,
        session_id: i % 6 === 0 ? null : `sess-${i % 23}`,
        user_agent: null,
      },
      action,
      category: CATEGORY_OF[action] as AuditEventInput['category'],
      outcome: OUTCOMES[i % 4] as AuditEventInput['outcome'],
      reason: i % 4 === 1 ? 'Invalid_Password' : null,
      service: `svc${i % 4}`,
      resource: i % 3 === 1 ? null : { type: ['document', 'user', 'setting'][i % 3] as string, id: i === 6 ? TRICKY_RESOURCE : `r${i % 11}`, name: null },
      severity: SEVERITIES[i % 5] as AuditEventInput['severity'],
      attributes: { k: `v${i % 13}`, note: i % 50 === 0 ? 'a Needle in the haystack' : 'plain', ...(i % 97 === 0 ? { rare_key: 'x' } : {}) },
    });
  }
  return out;
}

let offset = 0;
/** Inserts through the storage module, as ingest does (one Kafka offset per row). */
export async function insert(ch: ClickHouse, events: readonly AuditEventInput[], chunk = 50_000): Promise<void> {
  for (let i = 0; i < events.length; i += chunk) {
    await insertEvents(
      ch,
      events.slice(i, i + chunk).map((event) => {
        offset++;
        return {
          event,
          meta: {
            received_at: Math.floor(Number(event.occurred_at) / 1000),
            kafka_topic: 'audit.events',
            kafka_partition: offset % 6,
            kafka_offset: offset,
            chain_seq: offset,
            prev_hash: 'a'.repeat(64),
            hash: 'b'.repeat(64),
          },
        };
      }),
    );
  }
}

/**
 * The API's filter parameters (routes/filters.ts), with from/to as µs; matches() below is the
 * filter semantics in JavaScript: the independent expectation of the tests.
 */
export interface Filter extends Omit<EventFilterInput, 'from' | 'to'> {
  from: number;
  to: number;
  tenants?: readonly string[];
  /** Other request parameters (sort, limit, cursor, …), ignored by matches(). */
  [param: string]: unknown;
}

export function matches(e: AuditEventInput, f: Filter): boolean {
  const t = Number(e.occurred_at);
  if (t < f.from || t >= f.to) return false;
  if (f.tenant !== undefined && e.tenant_id !== f.tenant) return false;
  if (f.tenants !== undefined && !f.tenants.includes(e.tenant_id)) return false;
  if (f.actor_id !== undefined && e.actor.id !== f.actor_id) return false;
  if (f.actor_type !== undefined && e.actor.type !== f.actor_type) return false;
  if (f.action !== undefined && e.action !== f.action) return false;
  if (f.action_prefix !== undefined && !e.action.startsWith(f.action_prefix)) return false;
  if (f.category !== undefined && e.category !== f.category) return false;
  if (f.outcome !== undefined && e.outcome !== f.outcome) return false;
  if (f.severity !== undefined && (e.severity ?? 'info') !== f.severity) return false;
  if (f.resource_type !== undefined && (e.resource?.type ?? '') !== f.resource_type) return false;
  if (f.resource_id !== undefined && (e.resource?.id ?? '') !== f.resource_id) return false;
  if (f.service !== undefined && e.service !== f.service) return false;
  if (f.source_ip !== undefined && (e.actor.ip ?? '') !== f.source_ip) return false;
  if (f.session_id !== undefined && (e.actor.session_id ?? '') !== f.session_id) return false;
  if (f.q !== undefined) {
    const q = f.q.toLowerCase();
    const attrs = Object.entries(e.attributes ?? {}).flat();
    if (![e.reason ?? '', ...attrs].some((s) => s.toLowerCase().includes(q))) return false;
  }
  return true;
}

export const isoOf = (us: number) => new Date(Math.floor(us / 1000)).toISOString();

/** The query string of a filter (from/to as ISO, µs precision preserved). */
export function qs(f: Filter): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(f)) {
    if (v === undefined || k === 'tenants') continue;
    if (k === 'from' || k === 'to') p.set(k, `${isoOf(v as number).slice(0, 19)}.${String((v as number) % 1_000_000).padStart(6, '0')}Z`);
    else p.set(k, String(v));
  }
  return p.toString();
}

/** A real SDK producer on a topic of its own, and a reader of that topic. */
export async function auditTopic(): Promise<{
  topic: string;
  kafka: Kafka;
  producer: AuditProducer;
  recordEvent: (e: SelfAuditEvent) => Promise<unknown>;
  readAll: (predicate: (events: AuditEvent[]) => boolean, timeoutMs?: number) => Promise<AuditEvent[]>;
  close: () => Promise<void>;
}> {
  const kafka = createKafkaClient(baseConfig.kafka, { component: 'api-int' });
  const topic = uniqueName('api_it_audit');
  await ensureTopics(kafka, { topics: [{ name: topic, partitions: 1, replicationFactor: 1 }] });
  const producer = createAuditProducer({ kafka, topic, linger_ms: 1 });
  const codec = createCodec();
  return {
    topic,
    kafka,
    producer,
    recordEvent: (e) => producer.publish(e),
    async readAll(predicate, timeoutMs = 30_000) {
      const consumer = kafka.consumer({ groupId: uniqueName('api_it_reader') });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const out: AuditEvent[] = [];
      try {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`read ${out.length} audit events in ${timeoutMs} ms without the expected ones`)), timeoutMs);
          consumer
            .run({
              eachBatch: async ({ batch }) => {
                for (const m of batch.messages) if (m.value) out.push(codec.decodeSync(m.value));
                if (predicate(out)) {
                  clearTimeout(timer);
                  resolve();
                }
              },
            })
            .catch(reject);
        });
      } finally {
        await consumer.disconnect();
      }
      return out;
    },
    async close() {
      await producer.close({ timeout_ms: 5000 });
      await deleteTopics(kafka, [topic]);
    },
  };
}
