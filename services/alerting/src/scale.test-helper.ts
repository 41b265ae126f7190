import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, uniqueName, uuidv7 } from '@auditstream/core';
import type { AuditEventInput } from '@auditstream/schemas';
import { collectTopic } from '@auditstream/test';
import type { Kafka } from 'kafkajs';
import { parse, stringify } from 'yaml';
import type { AlertDelivery } from './alert.js';
import { login } from './int.test-helper.js';
import { decodeAlert } from './sinks/alert-codec.js';

/** Helpers of the scale-out integration tests only (real Kafka; nothing mocked). */

/**
 * The shipped default rules, with the two clock-driven rules' waits shortened so a test sees
 * them fire (event_loss grace 3 s, silent_producer 5 s); every other rule as shipped.
 */
export function scaleRulesFile(): string {
  const doc = parse(readFileSync(join(repoRoot(), 'deploy/rules/default.yaml'), 'utf8')) as { rules: Array<Record<string, unknown>> };
  for (const r of doc.rules) {
    if (r.type === 'event_loss') r.event_loss = { ...(r.event_loss as object), grace_s: 3 };
    if (r.type === 'absence') r.absence = { ...(r.absence as object), for_s: 5 };
  }
  const file = join(tmpdir(), `${uniqueName('scale_rules')}.yaml`);
  writeFileSync(file, stringify(doc));
  return file;
}

function event(at: number, actor: string, action: string, category: string, extra: Partial<AuditEventInput> = {}): AuditEventInput {
  return {
    event_id: uuidv7(at),
    tenant_id: 'acme',
    occurred_at: Math.round(at * 1000),
    actor: { id: actor, type: 'user', ip: '192.0.2.50' },
    action,
    category: category as AuditEventInput['category'],
    outcome: 'success',
    service: 'console',
    ...extra,
  };
}

/**
 * One incident of each kind, from many actors (so over many events partitions): brute force,
 * password spraying from one IP across 12 actors, brute force then success, an admin role
 * grant, a mass export, and a producer whose numbers 3 and 4 never arrive. Every service then
 * goes silent, so silent_producer fires too. `t`: a few seconds in the past, so that no event
 * time is clamped to its arrival (max_future_skew_ms) and the sequence keeps its order.
 */
export function incidentEvents(t: number): AuditEventInput[] {
  let at = t;
  const next = () => {
    at += 50;
    return at;
  };
  const out: AuditEventInput[] = [];
  for (let i = 0; i < 8; i++) out.push(login('bf-victim', '198.51.100.7', 'failure', next()));
  for (let i = 0; i < 12; i++) out.push(login(`spray-${i}`, '203.0.113.9', 'failure', next()));
  for (let i = 0; i < 5; i++) out.push(login('bfs-victim', '198.51.100.8', 'failure', next()));
  out.push(login('bfs-victim', '198.51.100.8', 'success', next()));
  out.push(
    event(next(), 'admin-1', 'user.role.grant', 'authorization', { service: 'iam', attributes: { role: 'admin' }, resource: { type: 'user', id: 'u-9' } }),
  );
  out.push(
    event(next(), 'exp-1', 'report.export', 'data_export', {
      service: 'reports',
      attributes: { record_count: '50000' },
      resource: { type: 'report', id: 'r-1' },
    }),
  );
  // One actor, so one events partition keeps the producer's numbers in order: a tracker takes the
  // first number it sees as the producer's start (rules/loss-tracker.ts), whatever the instance count.
  const producer = uuidv7();
  for (const seq of [0, 1, 2, 5, 6])
    out.push(event(next(), 'svc-batch', 'record.read', 'resource_access', { service: 'billing', producer_id: producer, producer_seq: seq }));
  return out;
}

/** Collects every delivery on an alerts topic from its start until `stop()`. */
export async function collectAlerts(kafka: Kafka, topic: string): Promise<{ deliveries: AlertDelivery[]; stop(): Promise<void> }> {
  const c = await collectTopic(kafka, topic, decodeAlert);
  return { deliveries: c.records, stop: c.stop };
}
