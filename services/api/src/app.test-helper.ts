// The API's HTTP layer with fakes, shared by its unit tests: a ClickHouse that records the SQL it
// is given (rendered for 18.16, i.e. with escaped literals) and answers canned rows, a fixed set
// of credentials, and self-audit events collected in memory.

import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { type ClickHouse, capabilitiesFor, render, type SqlFragment } from '@auditstream/clickhouse';
import { createLogger, createMetricsRegistry } from '@auditstream/observability';
import type { FastifyInstance } from 'fastify';
import type { ApiKeyVerifier } from './api-keys.js';
import { type ApiDeps, buildApi } from './app.js';
import { apiDefaults } from './config.js';
import type { IntegrityVerifier } from './integrity.js';
import type { SelfAuditEvent } from './plugins/audit-self.js';
import type { Principal } from './scope.js';

const caps = capabilitiesFor('18.16.1');
export const KEYS: Record<string, Principal> = {
  ask_auditor: { kind: 'api_key', id: 'aud1', role: 'auditor', tenants: ['acme', 'beta'] },
  ask_admin: { kind: 'api_key', id: 'adm1', role: 'admin', tenants: '*' },
  ask_service: { kind: 'api_key', id: 'svc1', role: 'service', tenants: ['acme'] },
};

export function fakeClickHouse(answer: (sql: string) => unknown[] | Promise<unknown[]> = () => []) {
  const queries: string[] = [];
  const ch = {
    database: 'audit',
    // Exports read @clickhouse/client's streaming result set directly.
    client: {
      async query(params: { query: string }) {
        queries.push(params.query);
        const rows = (await answer(params.query)) as Record<string, unknown>[];
        return { stream: () => Readable.from([rows.map((r) => ({ text: JSON.stringify(r) }))]) };
      },
    },
    capabilities: async () => caps,
    async queryRows(q: SqlFragment | string) {
      const text = typeof q === 'string' ? q : render(q, caps).query;
      queries.push(text);
      return (await answer(text)) as never[];
    },
    command: async () => {},
    insertJson: async () => {},
    ping: async () => true,
    close: async () => {},
  } as unknown as ClickHouse;
  return { ch, queries };
}

export function makeApp(over: Partial<ApiDeps> & { answer?: (sql: string) => unknown[] | Promise<unknown[]> } = {}) {
  const { ch, queries } = fakeClickHouse(over.answer);
  const events: SelfAuditEvent[] = [];
  const apiKeys: ApiKeyVerifier = { verify: async (t) => KEYS[t] };
  const metrics = createMetricsRegistry({ service: 'api-test', defaultMetrics: false });
  const app = buildApi({
    config: apiDefaults({ rate_limit_burst: 1000, rate_limit_per_s: 1000, unauthenticated_rate_limit_per_s: 1000, self_audit_refusals_per_s: 1000 }),
    clickhouse: ch,
    logger: createLogger({ service: 'api-test', level: 'silent' }),
    metrics,
    recordEvent: async (e) => {
      events.push(e);
    },
    apiKeys,
    ...over,
  });
  return { app, queries, events, metrics };
}

export const FROM = '2024-05-01T00:00:00Z';
export const TO = '2024-05-02T00:00:00Z';
export const range = `from=${FROM}&to=${TO}`;
export const as = (key: string) => ({ authorization: `Bearer ${key}` });

export async function get(app: FastifyInstance, url: string, key = 'ask_admin') {
  const r = await app.inject({ method: 'GET', url, headers: as(key) });
  return { status: r.statusCode, headers: r.headers, body: r.body, json: () => JSON.parse(r.body) as Record<string, unknown> };
}

export function assertProblem(
  r: { status: number; headers: Record<string, unknown>; json: () => Record<string, unknown> },
  status: number,
  parameter?: string,
) {
  assert.equal(r.status, status);
  assert.match(String(r.headers['content-type']), /^application\/problem\+json/);
  const p = r.json();
  assert.equal(p.status, status);
  assert.equal(typeof p.type, 'string');
  assert.equal(typeof p.title, 'string');
  assert.equal(typeof p.detail, 'string');
  if (parameter !== undefined) {
    const errors = p.errors as { parameter: string; in: string; message: string }[];
    assert.ok(Array.isArray(errors), 'errors[] present');
    assert.ok(
      errors.some((e) => e.parameter === parameter),
      `errors name ${parameter}: ${JSON.stringify(errors)}`,
    );
  }
  return p;
}

export function fakeVerifier(): IntegrityVerifier {
  return {
    async verifyRange({ from, to }) {
      const iso = (us: bigint) => new Date(Number(us / 1000n)).toISOString().replace('.000Z', 'Z');
      return { status: 'ok', checked_at: new Date().toISOString(), from: iso(from), to: iso(to), events_checked: 10, checkpoints_checked: 2, failures: [] };
    },
    async latest() {
      return undefined;
    },
  };
}
