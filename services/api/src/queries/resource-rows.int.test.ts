// Integration (real ClickHouse 18.16): by-resource search pages read through events_by_resource_rows
// (migration 014) equal those read from events: the same events, rows, order, `more` and cursors, page by
// page, on data with re-delivered copies (same Kafka message stored twice), duplicates (the same event in
// another message), reused event ids with other content (same resource, and another resource received
// first or later) and three tenants; a tenant-scoped key sees nothing of another tenant through the API.
// The copy is filled by its view on insert and by 014's backfill for rows stored before it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type AuditEventInput, type ClickHouse, createClickHouse, insertEvents, MIGRATIONS, migrate, RESOURCE_ROWS } from '@auditstream/clickhouse';
import { uniqueName } from '@auditstream/core';
import { createMetricsRegistry } from '@auditstream/observability';
import { createApiKey } from '../api-keys.js';
import { buildApi } from '../app.js';
import { apiDefaults } from '../config.js';
import { baseConfig, freshDatabase, makeEvents, testLogger } from '../int.test-helper.js';
import type { TenantScope } from '../scope.js';
import { type EventKey, type ListedEvent, resourcePageRows, searchEvents } from './events.js';
import { RESOURCE_ROWS_MIGRATION, resourceRowsApply } from './resource-rows.js';
import type { EventQuery } from './scope-sql.js';

const HOUR_US = 3_600_000_000;
const BASE_US = Date.UTC(2026, 3, 2, 0, 17) * 1000;
const STEP_US = 20_000_000;
const N = 3000;
const FROM = BigInt(BASE_US - 1);
const TO = BigInt(BASE_US + (N / 3) * STEP_US + 1);

let db: Awaited<ReturnType<typeof freshDatabase>>;
let offset = 0;
/** Ids reused under resource `<id>-moved`: received before the original, and after it. */
const moved = { earlier: new Set<string>(), later: new Set<string>() };

/** Stores each event as one Kafka message; `at` gives the message (a re-delivery passes the same one). */
async function store(ch: ClickHouse, events: readonly AuditEventInput[], at?: (i: number) => { offset: number; receivedMs: number }): Promise<number[]> {
  const offsets: number[] = [];
  await insertEvents(
    ch,
    events.map((event, i) => {
      const m = at?.(i) ?? { offset: ++offset, receivedMs: Math.floor(Number(event.occurred_at) / 1000) };
      offsets.push(m.offset);
      return {
        event,
        meta: {
          received_at: m.receivedMs,
          kafka_topic: 'audit.events',
          kafka_partition: m.offset % 4,
          kafka_offset: m.offset,
          chain_seq: m.offset,
          prev_hash: 'a'.repeat(64),
          hash: 'b'.repeat(64),
        },
      };
    }),
  );
  return offsets;
}

before(async () => {
  db = await freshDatabase('api_it_resrows');
  const events = makeEvents(N, BASE_US, STEP_US);
  const first = await store(db.ch, events);
  // Re-delivered copies: the same Kafka message of 200 events stored again.
  await store(db.ch, events.slice(1000, 1200), (i) => ({
    offset: first[1000 + i] as number,
    receivedMs: Math.floor(Number(events[1000 + i]?.occurred_at) / 1000),
  }));
  // Duplicates: the newest 150 published twice (another message, received later).
  await store(db.ch, events.slice(-150), (i) => ({ offset: 100_000 + i, receivedMs: Math.floor(Number(events[N - 150 + i]?.occurred_at) / 1000) + 5000 }));
  // Reused ids, other content: another actor 2 hours earlier (same resource, received later); another
  // resource received FIRST (events shows that row, so a search of the original resource shows it too); another
  // resource received later.
  const at = (e: AuditEventInput, deltaMs: number) => Math.floor(Number(e.occurred_at) / 1000) + deltaMs;
  const sameResource = events
    .slice(-40)
    .map((e) => ({ ...e, occurred_at: Number(e.occurred_at) - 2 * HOUR_US, actor: { ...e.actor, id: `${e.actor.id}-again` } }));
  await store(db.ch, sameResource, (i) => ({ offset: 200_000 + i, receivedMs: at(events[N - 40 + i] as AuditEventInput, 9000) }));
  const move = (e: AuditEventInput) => ({ ...e, resource: { type: 'document', id: `${e.resource?.id ?? 'none'}-moved`, name: null } });
  const earlier = events.slice(2000, 2030);
  for (const e of earlier) moved.earlier.add(e.event_id);
  await store(db.ch, earlier.map(move), (i) => ({ offset: 300_000 + i, receivedMs: at(earlier[i] as AuditEventInput, -1000) }));
  const later = events.slice(2100, 2130);
  for (const e of later) moved.later.add(e.event_id);
  await store(db.ch, later.map(move), (i) => ({ offset: 400_000 + i, receivedMs: at(later[i] as AuditEventInput, 1000) }));
});

after(async () => {
  await db?.drop();
});

const scopes: Record<string, TenantScope> = {
  acme: { all: false, tenants: ['acme'] },
  'acme+beta': { all: false, tenants: ['acme', 'beta'] },
  all: { all: true },
};
const filters: Record<string, Partial<EventQuery>> = {
  'resource id': { resource_id: 'r4' },
  'resource id+type': { resource_type: 'document', resource_id: 'r0' },
  'resource id+type+action': { resource_type: 'user', resource_id: 'r2', action: 'auth.logout' },
  'resource id+outcome (not in the key)': { resource_id: 'r8', outcome: 'failure' },
  'moved resource': { resource_id: 'r3-moved' },
  'tricky resource': { resource_id: "r'; DROP TABLE events; --" },
  'no such resource': { resource_id: 'nope' },
};

type Page = { events: ListedEvent[]; more: boolean };
async function allPages(ch: ClickHouse, query: EventQuery, order: 'asc' | 'desc', limit: number, source: 'auto' | 'events'): Promise<Page[]> {
  const pages: Page[] = [];
  let cursor: EventKey | undefined;
  for (;;) {
    const page = await searchEvents(ch, query, { order, limit, after: cursor, source });
    pages.push(page);
    const last = page.events.at(-1);
    if (!page.more || !last) return pages;
    cursor = { t: BigInt(last.event.occurred_at), id: last.event.event_id };
  }
}

test('the copy holds every stored row that has a resource, by Kafka message, without the chain columns (view on insert)', async () => {
  const q = (from: string, where: string) =>
    db.ch.queryRows<Record<string, string>>(
      `SELECT DISTINCT tenant_id, resource_type, resource_id, toString(event_id) AS id, kafka_partition, toString(kafka_offset) AS o, actor_id, toString(received_at) AS r
       FROM ${db.database}.${from} WHERE ${where} ORDER BY tenant_id, resource_id, id, kafka_partition, o, r, actor_id`,
    );
  // DISTINCT: a re-delivered message is one row or two, depending on merges, in either table.
  const copy = await q(RESOURCE_ROWS.table, '1');
  assert.ok(copy.length > 2000);
  assert.deepEqual(copy, await q('events', "resource_id != ''"));
  const cols = await db.ch.queryRows<{ name: string }>(
    `SELECT name FROM system.columns WHERE database = '${db.database}' AND table = '${RESOURCE_ROWS.table}'`,
  );
  const names = cols.map((c) => c.name);
  for (const c of ['chain_seq', 'prev_hash', 'hash']) assert.ok(!names.includes(c), `${c} is not copied`);
  for (const c of ['actor_user_agent', 'attr_keys', 'received_at_ms', 'kafka_offset', 'producer_seq']) assert.ok(names.includes(c), `${c} is copied`);
});

test('by-resource pages through the copy equal the pages read from events (events, order, more, cursors)', async () => {
  assert.equal(await resourceRowsApply(db.ch, { scope: scopes.all as TenantScope, from: FROM, to: TO, resource_id: 'r4' }), true);
  let compared = 0;
  let answered = 0;
  for (const [scopeName, scope] of Object.entries(scopes)) {
    for (const [label, f] of Object.entries(filters)) {
      // Small pages both ways (a cursor at every tenth event), and pages of 100 (the bench's).
      for (const [order, limit] of [
        ['desc', 10],
        ['asc', 10],
        ['desc', 100],
      ] as const) {
        const query: EventQuery = { scope, from: FROM, to: TO, ...f };
        const viaCopy = await allPages(db.ch, query, order, limit, 'auto');
        const viaEvents = await allPages(db.ch, query, order, limit, 'events');
        assert.deepEqual(viaCopy, viaEvents, `${scopeName} ${label} ${order} pages of ${limit}`);
        for (const page of viaCopy) {
          if (page.events.length === 0) continue;
          const keys = page.events.map((e) => ({ t: BigInt(e.event.occurred_at), id: e.event.event_id }));
          const alone = await resourcePageRows(db.ch, query, keys, { order });
          if (alone === undefined) continue;
          answered++;
          assert.deepEqual(alone, page.events, `${scopeName} ${label} ${order}: the rows read from the copy alone`);
        }
        // (An id reused at another time has two keys and may be listed twice, by either read: today's paging.)
        compared += viaCopy.reduce((n, p) => n + p.events.length, 0);
      }
    }
  }
  assert.ok(compared > 2000, `${compared} rows compared`);
  assert.ok(answered > 100, `${answered} pages answered by the copy alone`);
});

test('a reused id under another resource: each search shows the first received row of the id, as events does', async () => {
  const query: EventQuery = { scope: { all: true }, from: FROM, to: TO, resource_id: 'r3-moved' };
  const pages = await allPages(db.ch, query, 'desc', 100, 'auto');
  const shown = pages.flatMap((p) => p.events);
  // Received before the original: the r3-moved row is shown; received after: the original (r3) row is.
  assert.ok(shown.some((e) => moved.earlier.has(e.event.event_id)) && shown.some((e) => moved.later.has(e.event.event_id)));
  for (const e of shown) assert.equal(e.event.resource?.id, moved.earlier.has(e.event.event_id) ? 'r3-moved' : 'r3', e.event.event_id);
  const keys = shown.map((e) => ({ t: BigInt(e.event.occurred_at), id: e.event.event_id }));
  assert.equal(await resourcePageRows(db.ch, query, keys, { order: 'desc' }), undefined, 'the copy cannot answer this page alone');
  const r3 = (await allPages(db.ch, { ...query, resource_id: 'r3' }, 'desc', 100, 'auto')).flatMap((p) => p.events);
  const again = r3.filter((e) => moved.earlier.has(e.event.event_id));
  assert.ok(again.length > 0 && again.every((e) => e.event.resource?.id === 'r3-moved'), 'an r3 search shows the id with its first received row');
});

test('a database migrated before 014 is backfilled by it, and searches use the copy only once it is applied', async () => {
  const database = uniqueName('api_it_resrows_fill');
  const open = () => createClickHouse({ ...baseConfig.clickhouse, database }, { logger: testLogger, component: 'test' });
  const ch = open();
  let fresh: ClickHouse | undefined;
  try {
    await migrate(ch, { migrations: MIGRATIONS.filter((m) => m.id !== RESOURCE_ROWS_MIGRATION) });
    const events = makeEvents(300, BASE_US, STEP_US);
    await store(ch, events);
    const query: EventQuery = { scope: { all: true }, from: FROM, to: TO, resource_id: 'r4' };
    assert.equal(await resourceRowsApply(ch, query), false, 'not migrated: the search reads events');
    const before = await allPages(ch, query, 'desc', 10, 'auto');
    await migrate(ch);
    const [n] = await ch.queryRows<{ n: string }>(`SELECT toString(count()) AS n FROM ${database}.${RESOURCE_ROWS.table}`);
    assert.equal(Number(n?.n), events.filter((e) => e.resource).length, 'every stored row with a resource is in the copy');
    // The "not migrated" answer is kept for a while; a new client asks again.
    fresh = open();
    assert.equal(await resourceRowsApply(fresh, query), true);
    assert.deepEqual(await allPages(fresh, query, 'desc', 10, 'auto'), before);
  } finally {
    await ch.command(`DROP DATABASE IF EXISTS \`${database}\``);
    await fresh?.close();
    await ch.close();
  }
});

test('through the API, a tenant-scoped key sees by-resource pages of its tenant only, equal to the events read', async () => {
  const acme = (await createApiKey(db.ch, { role: 'auditor', tenants: ['acme'] })).key;
  const app = buildApi({
    config: apiDefaults({ rate_limit_burst: 1000, rate_limit_per_s: 1000 }),
    clickhouse: db.ch,
    logger: testLogger,
    metrics: createMetricsRegistry({ service: 'api-resrows', defaultMetrics: false }),
    recordEvent: async () => undefined,
  });
  try {
    const range = `from=${new Date(Number(FROM / 1000n)).toISOString()}&to=${new Date(Number(TO / 1000n) + 1).toISOString()}`;
    const get = (qs: string) => app.inject({ method: 'GET', url: `/v1/events?${range}&${qs}`, headers: { authorization: `Bearer ${acme}` } });
    const ids: string[] = [];
    let cursor = '';
    for (;;) {
      const r = await get(`resource_id=r4&limit=25${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      assert.equal(r.statusCode, 200, r.body);
      const body = JSON.parse(r.body) as { data: { event_id: string; tenant_id: string }[]; next_cursor: string | null };
      assert.ok(
        body.data.every((e) => e.tenant_id === 'acme'),
        'only the key tenant',
      );
      ids.push(...body.data.map((e) => e.event_id));
      if (!body.next_cursor) break;
      cursor = body.next_cursor;
    }
    const expected = (await allPages(db.ch, { scope: { all: false, tenants: ['acme'] }, from: FROM, to: TO + 1000n, resource_id: 'r4' }, 'desc', 25, 'events'))
      .flatMap((p) => p.events)
      .map((e) => e.event.event_id);
    assert.ok(ids.length > 50);
    assert.deepEqual(ids, expected);
    const beta = await get('resource_id=r4&tenant=beta&limit=25');
    assert.ok(beta.statusCode === 403 || (beta.statusCode === 200 && (JSON.parse(beta.body) as { data: unknown[] }).data.length === 0), beta.body);
  } finally {
    await app.close();
  }
});
