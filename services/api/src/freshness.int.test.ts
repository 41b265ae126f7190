// GET /v1/freshness against the real ClickHouse (18.16 in the local stack): rows stored through the
// storage module on two partitions by two producers (and one without numbering), read as an admin
// and as a key scoped to one tenant.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type AuditEventInput, insertEvents } from '@auditstream/clickhouse';
import { uuidv7 } from '@auditstream/core';
import { createMetricsRegistry } from '@auditstream/observability';
import { createApiKey } from './api-keys.js';
import { type Api, createApi } from './app.js';
import { apiDefaults } from './config.js';
import { freshDatabase, testLogger } from './int.test-helper.js';

const BASE_MS = Date.UTC(2026, 0, 10, 12);
const P_ACME = '01890f5c-3b2a-7cde-8f01-00000000000a';
const P_BETA = '01890f5c-3b2a-7cde-8f01-00000000000b';
let db: Awaited<ReturnType<typeof freshDatabase>>;
let api: Api;
let url: string;
const keys = { admin: '', acme: '' };

function event(tenant: string, atMs: number, producer?: [string, number]): AuditEventInput {
  return {
    event_id: uuidv7(atMs),
    tenant_id: tenant,
    occurred_at: atMs * 1000 + 123,
    actor: { id: 'u1', type: 'user' },
    action: 'auth.login',
    category: 'authentication',
    outcome: 'success',
    service: `svc-${tenant}`,
    ...(producer ? { producer_id: producer[0], producer_seq: producer[1] } : {}),
  };
}

before(async () => {
  db = await freshDatabase('api_fresh');
  const rows: Array<{ event: AuditEventInput; partition: number; storedMs: number }> = [
    // acme, producer A: partition 0 up to +30 s, partition 1 up to +50 s
    { event: event('acme', BASE_MS, [P_ACME, 0]), partition: 0, storedMs: BASE_MS + 1000 },
    { event: event('acme', BASE_MS + 30_000, [P_ACME, 1]), partition: 0, storedMs: BASE_MS + 31_250 },
    { event: event('acme', BASE_MS + 50_000, [P_ACME, 2]), partition: 1, storedMs: BASE_MS + 51_000 },
    // beta, producer B: partition 1 up to +90 s; one beta event without numbering on partition 0 at +70 s
    { event: event('beta', BASE_MS + 90_000, [P_BETA, 7]), partition: 1, storedMs: BASE_MS + 95_500 },
    { event: event('beta', BASE_MS + 70_000), partition: 0, storedMs: BASE_MS + 71_000 },
  ];
  await insertEvents(
    db.ch,
    rows.map((r, i) => ({
      event: r.event,
      meta: {
        received_at: r.storedMs - 500,
        ingested_at: r.storedMs,
        kafka_topic: 'audit.events',
        kafka_partition: r.partition,
        kafka_offset: i,
        chain_seq: i,
        prev_hash: 'a'.repeat(64),
        hash: 'b'.repeat(64),
      },
    })),
  );
  keys.admin = (await createApiKey(db.ch, { role: 'admin', tenants: [] })).key;
  keys.acme = (await createApiKey(db.ch, { role: 'auditor', tenants: ['acme'] })).key;
  api = createApi({
    config: apiDefaults({ port: 0, host: '127.0.0.1' } as never),
    clickhouse: db.ch,
    logger: testLogger,
    metrics: createMetricsRegistry({ service: 'api-fresh', defaultMetrics: false }),
    recordEvent: async () => undefined,
  });
  url = (await api.start()).url;
});

after(async () => {
  await api?.stop();
  await db?.drop();
});

const range = `from=${new Date(BASE_MS - 3_600_000).toISOString()}&to=${new Date(BASE_MS + 3_600_000).toISOString()}`;
type Freshness = { partitions: Record<string, unknown>[]; producers: Record<string, unknown>[] };
async function get(query: string, key: string) {
  const res = await fetch(`${url}/v1/freshness?${query}`, { headers: { authorization: `Bearer ${key}` } });
  return { status: res.status, body: (await res.json()) as Freshness };
}
const iso = (ms: number) => new Date(ms).toISOString();

test('per partition and per producer: the newest stored event, when it was stored, and counts; an admin sees every tenant', async () => {
  const r = await get(range, keys.admin);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const { partitions, producers } = r.body;
  // Compared to the second: the legacy layout (18.16) keeps the microseconds in a side column.
  assert.deepEqual(
    partitions.map((p) => [p.partition, String(p.newest_event_at).slice(0, 19), p.newest_stored_at, p.events]),
    [
      [0, iso(BASE_MS + 70_000).slice(0, 19), new Date(BASE_MS + 71_000).toISOString(), 3],
      [1, iso(BASE_MS + 90_000).slice(0, 19), new Date(BASE_MS + 95_500).toISOString(), 2],
    ],
  );
  assert.deepEqual(
    producers.map((p) => [p.producer_id, p.service, String(p.newest_event_at).slice(0, 19), p.max_seq, p.events]),
    [
      [P_BETA, 'svc-beta', iso(BASE_MS + 90_000).slice(0, 19), 7, 1],
      [P_ACME, 'svc-acme', iso(BASE_MS + 50_000).slice(0, 19), 2, 3],
    ],
  );
});

test('a key scoped to one tenant sees only that tenant; another tenant is refused', async () => {
  const r = await get(range, keys.acme);
  assert.equal(r.status, 200);
  const { partitions, producers } = r.body;
  assert.deepEqual(
    partitions.map((p) => [p.partition, String(p.newest_event_at).slice(0, 19), p.events]),
    [
      [0, iso(BASE_MS + 30_000).slice(0, 19), 2],
      [1, iso(BASE_MS + 50_000).slice(0, 19), 1],
    ],
  );
  assert.deepEqual(
    producers.map((p) => p.producer_id),
    [P_ACME],
  );
  assert.equal((await get(`${range}&tenant=beta`, keys.acme)).status, 403);
});
