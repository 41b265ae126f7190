// Integration (real ClickHouse 18.16): erasing a subject (crypto-shredding: its data keys are deleted,
// event rows untouched) covers events_by_resource_rows too. The copy holds the same envelopes as events
// (its view copies the stored columns), so a by-resource search answered from the copy shows the
// subject's fields in clear to a PII-permitted key before the erase and "[erased]" after it, and the
// copy's raw rows never hold the clear text.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { type AuditEventInput, insertEvents, RESOURCE_ROWS } from '@auditstream/clickhouse';
import { uuidv7 } from '@auditstream/core';
import { createLocalKeyWrapper, createSubjectKeyStore, encryptEventFields, eraseSubject, subjectKey } from '@auditstream/crypto';
import { createMetricsRegistry } from '@auditstream/observability';
import type { FastifyInstance } from 'fastify';
import { createApiKey } from '../api-keys.js';
import { buildApi } from '../app.js';
import { apiDefaults } from '../config.js';
import { freshDatabase, testLogger } from '../int.test-helper.js';
import { resourcePageRows } from './events.js';

const TENANT = 'acme';
const NAME = 'Alice Liddell';
const IP = '203.0.113.77';
const FIELDS = ['actor.name', 'actor.ip'];
const BASE_MS = Date.UTC(2026, 4, 5, 10);
let db: Awaited<ReturnType<typeof freshDatabase>>;
let app: FastifyInstance;
let piiKey: string;
const wrapper = createLocalKeyWrapper({ keys: [randomBytes(32)] });

before(async () => {
  db = await freshDatabase('api_it_resrows_erase');
  // The writer's store (as ingest's): one data key per subject, created on first use.
  const writer = createSubjectKeyStore({ ch: db.ch, wrapper, cacheTtlMs: 0, cacheMaxEntries: 10 });
  const keys = await writer.keysFor([
    { tenant: TENANT, subject: 'alice' },
    { tenant: TENANT, subject: 'bob' },
  ]);
  const events: AuditEventInput[] = [];
  for (let i = 0; i < 40; i++) {
    const who = i % 2 === 0 ? 'alice' : 'bob';
    const e: AuditEventInput = {
      event_id: uuidv7(BASE_MS + i * 1000),
      tenant_id: TENANT,
      occurred_at: (BASE_MS + i * 1000) * 1000,
      actor: { id: who, type: 'user', name: who === 'alice' ? NAME : 'Bob Builder', ip: IP },
      action: 'document.read',
      category: 'resource_access',
      outcome: 'success',
      service: 'docs',
      resource: { type: 'document', id: 'doc-erase', name: null },
    };
    encryptEventFields(e as never, FIELDS, keys.get(subjectKey(TENANT, who)) as never);
    events.push(e);
  }
  await insertEvents(
    db.ch,
    events.map((event, i) => ({
      event,
      meta: {
        received_at: BASE_MS + i * 1000,
        kafka_topic: 'audit.events',
        kafka_partition: 0,
        kafka_offset: i,
        chain_seq: i,
        prev_hash: 'a'.repeat(64),
        hash: 'b'.repeat(64),
      },
    })),
  );
  piiKey = (await createApiKey(db.ch, { role: 'auditor', tenants: [TENANT], pii: true })).key;
  app = buildApi({
    config: apiDefaults({ rate_limit_burst: 1000, rate_limit_per_s: 1000 }),
    clickhouse: db.ch,
    logger: testLogger,
    metrics: createMetricsRegistry({ service: 'api-resrows-erase', defaultMetrics: false }),
    recordEvent: async () => undefined,
    // cacheTtlMs 0: every read resolves the keys again, so the erase shows at once.
    fields: { store: createSubjectKeyStore({ ch: db.ch, wrapper, cacheTtlMs: 0, cacheMaxEntries: 10, readOnly: true }), mask: '***', erased: '[erased]' },
  });
});

after(async () => {
  await app?.close();
  await db?.drop();
});

async function searchDoc(): Promise<{ actor: { id: string; name: string; ip: string } }[]> {
  const r = await app.inject({
    method: 'GET',
    url: `/v1/events?from=${new Date(BASE_MS - 60_000).toISOString()}&to=${new Date(BASE_MS + 3_600_000).toISOString()}&resource_id=doc-erase&limit=100`,
    headers: { authorization: `Bearer ${piiKey}` },
  });
  assert.equal(r.statusCode, 200, r.body);
  return (JSON.parse(r.body) as { data: { actor: { id: string; name: string; ip: string } }[] }).data;
}

test('erasing a subject makes its fields unreadable in by-resource pages read from the copy', async () => {
  // The page is the copy's: read from it alone it is the same page.
  const scope = { all: false, tenants: [TENANT] } as const;
  const raw = await db.ch.queryRows<{ t: string }>(`SELECT toString(groupArray((actor_name, actor_ip))) AS t FROM ${db.database}.${RESOURCE_ROWS.table}`);
  const text = raw[0]?.t ?? '';
  assert.ok(text.includes('enc:v1:'), 'the copy holds the envelopes');
  for (const clear of [NAME, IP, 'Bob Builder']) assert.ok(!text.includes(clear), `the copy never holds ${clear}`);

  const before = await searchDoc();
  assert.equal(before.length, 40);
  assert.ok(before.filter((e) => e.actor.id === 'alice').every((e) => e.actor.name === NAME && e.actor.ip === IP));
  const pageKeys = (
    await db.ch.queryRows<{ t: string; id: string }>(
      `SELECT toString(toUInt64(occurred_at) * 1000000 + occurred_at_us) AS t, toString(event_id) AS id FROM ${db.database}.${RESOURCE_ROWS.table} ORDER BY occurred_at DESC, occurred_at_us DESC, event_id DESC`,
    )
  ).map((r) => ({ t: BigInt(r.t), id: r.id }));
  const fromCopy = await resourcePageRows(db.ch, { scope, from: 0n, to: 1n << 60n, resource_id: 'doc-erase' }, pageKeys, { order: 'desc' });
  assert.equal(fromCopy?.length, 40, 'the copy answers this page alone');

  const recorded: AuditEventInput[] = [];
  const result = await eraseSubject({
    ch: db.ch,
    subject: 'alice',
    tenant: TENANT,
    reason: 'GDPR art. 17 request',
    recordEvent: async (e) => {
      recorded.push(e);
    },
    actorId: 'dpo',
    keyCacheTtlMs: 0,
  });
  assert.equal(result.keyIds.length, 1);
  assert.equal(recorded.length, 1);

  const afterErase = await searchDoc();
  assert.equal(afterErase.length, 40);
  for (const e of afterErase) {
    if (e.actor.id === 'alice') assert.deepEqual([e.actor.name, e.actor.ip], ['[erased]', '[erased]'], 'the erased subject reads [erased] through the copy');
    else assert.deepEqual([e.actor.name, e.actor.ip], ['Bob Builder', IP], 'other subjects stay readable');
  }
});
