// ApiEvent.masked against the real ClickHouse 18.16: events whose personal fields are stored as
// envelopes (encrypted as ingest does, keys in the real subject_keys table) next to events with
// clear values. A credential without the PII permission gets the mask AND the masked paths in
// search, single event, NDJSON and CSV exports and the OpenAPI document; a PII credential gets
// the clear values and no paths; the self-audit records how many values the caller did not see.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { AuditEventInput } from '@auditstream/clickhouse';
import { uuidv7 } from '@auditstream/core';
import { createLocalKeyWrapper, createSubjectKeyStore, encryptEventFields, subjectKey } from '@auditstream/crypto';
import { createMetricsRegistry } from '@auditstream/observability';
import type { ApiEvent } from '@auditstream/schemas';
import type { FastifyInstance } from 'fastify';
import { createApiKey } from './api-keys.js';
import { buildApi } from './app.js';
import { apiDefaults } from './config.js';
import { freshDatabase, insert, isoOf, testLogger } from './int.test-helper.js';
import type { SelfAuditEvent } from './plugins/audit-self.js';

const TENANT = 'acme';
const FIELDS = ['actor.name', 'actor.ip', 'attributes.email'];
let db: Awaited<ReturnType<typeof freshDatabase>>;
let app: FastifyInstance;
let noKeyApp: FastifyInstance;
const audited: SelfAuditEvent[] = [];
const keys = { pii: '', plain: '' };
const baseUs = (Date.now() - 600_000) * 1000;
let encryptedId = '';
let clearId = '';

function event(actor: string, i: number): AuditEventInput {
  return {
    event_id: uuidv7(Math.floor(baseUs / 1000) + i),
    tenant_id: TENANT,
    occurred_at: baseUs + i * 1000,
    actor: { id: actor, type: 'user', name: 'Alice Liddell', ip: '203.0.113.7', session_id: 'sess-1', user_agent: null },
    action: 'auth.login',
    category: 'authentication',
    outcome: 'success',
    reason: null,
    service: 'sso',
    resource: null,
    severity: 'info',
    // A literal "***" that is NOT masked: the answer must not list it.
    attributes: { email: 'alice@example.com', plan: 'pro', note: '***' },
  };
}

function api(fields: Parameters<typeof buildApi>[0]['fields']): FastifyInstance {
  return buildApi({
    config: apiDefaults({ api_key_cache_ttl_ms: 0, rate_limit_burst: 1_000_000, rate_limit_per_s: 1_000_000 }),
    clickhouse: db.ch,
    logger: testLogger,
    metrics: createMetricsRegistry({ service: 'api-masked-test', defaultMetrics: false }),
    recordEvent: async (e) => {
      audited.push(e);
    },
    fields,
  });
}

before(async () => {
  db = await freshDatabase('api_masked');
  const store = createSubjectKeyStore({ ch: db.ch, wrapper: createLocalKeyWrapper({ keys: [randomBytes(32)] }), cacheTtlMs: 60_000, cacheMaxEntries: 100 });
  // Encrypted as ingest does it (services/ingest/src/pipeline/encrypt.ts): the subject's data key from the store.
  const enc = event('alice', 0);
  const key = (await store.keysFor([{ tenant: TENANT, subject: 'alice' }])).get(subjectKey(TENANT, 'alice'));
  assert.ok(key);
  assert.equal(encryptEventFields(enc as never, FIELDS, key), 3);
  const clear = { ...event('bob', 1), actor: { ...event('bob', 1).actor, ip: '198.51.100.9', name: 'Bob' } };
  encryptedId = enc.event_id;
  clearId = clear.event_id;
  await insert(db.ch, [enc, clear]);
  app = api({ store, mask: '***', erased: '[erased]' });
  noKeyApp = api({ mask: '***', erased: '[erased]' });
  keys.pii = (await createApiKey(db.ch, { role: 'auditor', tenants: [TENANT], pii: true })).key;
  keys.plain = (await createApiKey(db.ch, { role: 'auditor', tenants: [TENANT] })).key;
});

after(async () => {
  await app?.close();
  await noKeyApp?.close();
  await db?.drop();
});

const range = () => `from=${isoOf(baseUs - 1_000_000)}&to=${isoOf(baseUs + 10_000_000)}&tenant=${TENANT}`;

async function get<T>(key: string, url: string, on = app): Promise<T & { body: string }> {
  const r = await on.inject({ method: 'GET', url, headers: { authorization: `Bearer ${key}` } });
  assert.equal(r.statusCode, 200, r.body);
  return Object.assign(/^application\/json/.test(String(r.headers['content-type'])) ? JSON.parse(r.body) : {}, { body: r.body });
}

const paths = (e: ApiEvent | undefined) => (e?.masked ?? []).map((m) => `${m.path}:${m.reason}`).sort();
const byId = (events: ApiEvent[]) => new Map(events.map((e) => [e.event_id, e]));

test('search and single event list the masked paths for a credential without the PII permission, none for one with it', async () => {
  const plain = byId((await get<{ data: ApiEvent[] }>(keys.plain, `/v1/events?${range()}`)).data);
  const enc = plain.get(encryptedId);
  assert.equal(enc?.actor.ip, '***');
  assert.deepEqual(paths(enc), ['actor.ip:no_pii_permission', 'actor.name:no_pii_permission', 'attributes.email:no_pii_permission']);
  assert.equal(enc?.attributes.note, '***', 'a literal *** is kept as sent');
  assert.deepEqual(paths(plain.get(clearId)), [], 'clear values are not listed');

  const pii = byId((await get<{ data: ApiEvent[] }>(keys.pii, `/v1/events?${range()}`)).data);
  assert.equal(pii.get(encryptedId)?.actor.ip, '203.0.113.7');
  assert.deepEqual(pii.get(encryptedId)?.masked, []);
  assert.deepEqual(pii.get(clearId)?.masked, []);

  const one = await get<ApiEvent>(keys.plain, `/v1/events/${encryptedId}`);
  assert.deepEqual(paths(one), paths(enc));
  assert.ok(one.integrity, 'the single-event answer keeps its integrity fields');
  assert.deepEqual((await get<ApiEvent>(keys.pii, `/v1/events/${encryptedId}`)).masked, []);

  // Without a master key no one sees the value, and the reason says so.
  const noKey = byId((await get<{ data: ApiEvent[] }>(keys.pii, `/v1/events?${range()}`, noKeyApp)).data);
  assert.deepEqual(paths(noKey.get(encryptedId)), ['actor.ip:no_master_key', 'actor.name:no_master_key', 'attributes.email:no_master_key']);
});

test('the self-audit records how many values each read withheld', async () => {
  audited.length = 0;
  await get(keys.plain, `/v1/events?${range()}`);
  await get(keys.pii, `/v1/events?${range()}`);
  await get(keys.plain, `/v1/events/${encryptedId}`);
  assert.deepEqual(
    audited.map((e) => [e.attributes.pii_permission ?? 'false', e.attributes.masked_fields]),
    [
      ['false', '3'],
      ['true', '0'],
      ['false', '3'],
    ],
  );
});

test('exports carry the same masked paths: NDJSON per line, CSV in its last column', async () => {
  const nd = (await get(keys.plain, `/v1/export?${range()}&format=ndjson`)).body;
  const lines = byId(
    nd
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as ApiEvent),
  );
  assert.deepEqual(paths(lines.get(encryptedId)), ['actor.ip:no_pii_permission', 'actor.name:no_pii_permission', 'attributes.email:no_pii_permission']);
  assert.deepEqual(lines.get(clearId)?.masked, []);

  const csv = (await get(keys.plain, `/v1/export?${range()}&format=csv`)).body.split('\r\n');
  assert.ok(csv[0]?.endsWith(',masked'), csv[0]);
  const row = csv.find((l) => l.startsWith(encryptedId)) as string;
  assert.ok(row.endsWith('"{""actor.name"":""no_pii_permission"",""actor.ip"":""no_pii_permission"",""attributes.email"":""no_pii_permission""}"'), row);
  assert.ok(csv.find((l) => l.startsWith(clearId))?.endsWith(','), 'an empty masked column for clear rows');
  const piiCsv = (await get(keys.pii, `/v1/export?${range()}&format=csv`)).body;
  assert.ok(!piiCsv.includes('no_pii_permission'));
});

test('the OpenAPI document describes masked and its closed set of reasons', async () => {
  const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
    components: { schemas: Record<string, { required?: string[]; properties: Record<string, { enum?: string[] }> }> };
  };
  const s = doc.components.schemas;
  assert.ok(s.Event?.required?.includes('masked'));
  assert.deepEqual(s.MaskedField?.properties.reason?.enum, ['no_pii_permission', 'no_master_key', 'erased', 'unreadable']);
});
