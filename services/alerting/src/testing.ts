import type { AlertDelivery } from './alert.js';
import { Engine, type EngineOptions } from './engine.js';
import type { AlertEvent } from './event.js';
import { parseRules } from './rules/parse.js';

/** Test helpers (unit tests only): events with defaults, and an engine that records its deliveries. */
let seq = 0;
export const T0 = Date.parse('2026-03-02T10:00:00Z'); // a Monday

export function ev(over: Record<string, unknown> = {}, atMs = T0): AlertEvent {
  seq++;
  const { actor, attributes, ...rest } = over as { actor?: Record<string, unknown>; attributes?: Record<string, string> };
  return {
    event_id: `ev-${seq.toString().padStart(6, '0')}`,
    tenant_id: 'acme',
    occurred_at: Math.round(atMs * 1000),
    actor: { id: 'alice', type: 'user', ip: '10.0.0.1', ...(actor ?? {}) },
    action: 'auth.login',
    category: 'authentication',
    outcome: 'failure',
    service: 'idp',
    severity: 'info',
    attributes: { ...(attributes ?? {}) },
    ...rest,
  };
}

export function testEngine(yaml: string, opts: Partial<Omit<EngineOptions, 'rules' | 'onAlert'>> = {}) {
  const deliveries: AlertDelivery[] = [];
  const engine = new Engine({
    rules: parseRules(yaml),
    allowed_lateness_ms: 5000,
    limits: { maxEventsPerKey: 10_000, maxKeys: 100_000, sampleSize: 10 },
    now: () => T0 + 3_600_000,
    onAlert: (d) => deliveries.push(d),
    ...opts,
  });
  const fired = () => deliveries.filter((d) => d.kind === 'fired').map((d) => d.alert);
  return { engine, deliveries, fired };
}

export function oneRule(rule: string): string {
  return `version: 1\nrules:\n${rule
    .trim()
    .split('\n')
    .map((l, i) => (i === 0 ? `  - ${l}` : `    ${l}`))
    .join('\n')}\n`;
}
