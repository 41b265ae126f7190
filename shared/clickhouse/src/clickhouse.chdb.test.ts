import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { configSchema, loadConfig } from '@auditstream/config';
import { uniqueName, uuidv7 } from '@auditstream/core';
import { createLogger } from '@auditstream/observability';
import { createChdbConnection } from 'chdb/connection';
import { MIGRATIONS } from '../migrations/index.js';
import { layoutFor } from './capabilities.js';
import { type ClickHouse, createClickHouse, STREAM_MIN_ROWS } from './client.js';
import { migrate, migrationStatus } from './migrate.js';
import { countEvents, findEvents, getEvent, hourlyCountsByAction, rawEventRowCount } from './queries.js';
import { activeLegalHolds, applyRetention, parseRetentionPolicy, placeLegalHold } from './retention.js';
import { rowBinaryEncoder } from './row-binary.js';
import { type AuditEventInput, type EventRow, insertEvents, insertRows, toRow } from './rows.js';
import { eventColumnTypes, RESOURCE_ROWS } from './schema.js';
import { quoteString, sql, table } from './sql.js';
import { assertStoredAsSent } from './stored-as-sent.test-helper.js';

/**
 * The modern path (ClickHouse 26.x in-process via chDB, plugged into @clickhouse/client as its
 * connection): the modern DDL and every query this module issues, with server-side parameters.
 * No server needed, so this runs with the unit tests.
 */
const cfg = loadConfig(configSchema, { env: {} }).clickhouse;
const DB = uniqueName('audit_chdb');
let ch: ClickHouse;

before(() => {
  ch = createClickHouse(
    { ...cfg, database: DB },
    { logger: createLogger({ service: 'chdb-test', level: 'warn' }), connection: createChdbConnection({ path: ':memory:' }) },
  );
});
after(async () => {
  await ch.command(`DROP DATABASE IF EXISTS ${DB}`);
  await ch.close();
});

const ev = (i: number, over: Partial<AuditEventInput> = {}, atMs = Date.now() - i * 1000): AuditEventInput => ({
  event_id: uuidv7(atMs),
  tenant_id: 'tenant-m',
  occurred_at: atMs * 1000 + 7,
  actor: { id: `user-${i % 3}`, type: 'service', ip: `192.0.2.${i % 4}` },
  action: i % 2 ? 'auth.login' : 'document.read',
  category: 'authentication',
  outcome: 'success',
  service: 'chdb',
  resource: { type: 'document', id: `doc-${i % 5}` },
  attributes: { i: String(i), quote: "it's" },
  ...over,
});
const meta = (o: number) => ({ received_at: Date.now(), kafka_topic: 'audit.events', kafka_partition: 1, kafka_offset: o });

test('capabilities: every switch on, modern layout', async () => {
  const caps = await ch.capabilities();
  assert.ok(caps.major >= 26, caps.version);
  assert.equal(layoutFor(caps), 'modern');
  assert.ok(caps.map && caps.datetime64 && caps.queryParams && caps.ttl && caps.skipIndexes && caps.codecs);
});

test('modern DDL applies; second run is a no-op', async () => {
  const first = await migrate(ch);
  assert.deepEqual(
    first.applied,
    MIGRATIONS.map((m) => m.id),
  );
  assert.equal((await migrate(ch)).noop, true);
  assert.deepEqual((await migrationStatus(ch)).pending, []);
  const ddl = await ch.queryRows<{ q: string }>(sql`SELECT create_table_query AS q FROM system.tables WHERE database = ${DB} AND name = 'events'`);
  assert.match(ddl[0]?.q ?? '', /Map\(String, String\)/);
  assert.match(ddl[0]?.q ?? '', /DateTime64\(6, 'UTC'\)/);
  assert.match(ddl[0]?.q ?? '', /bloom_filter/);
  const keys = await ch.queryRows<{ q: string }>(sql`SELECT create_table_query AS q FROM system.tables WHERE database = ${DB} AND name = 'subject_keys'`);
  assert.match(keys[0]?.q ?? '', /INDEX idx_key_id key_id TYPE bloom_filter/);
});

test('every query helper dedups duplicate deliveries, with server-side parameters', async () => {
  const N = 40;
  const events = Array.from({ length: N }, (_, i) => ev(i));
  await insertEvents(
    ch,
    events.map((e, i) => ({ event: e, meta: meta(i) })),
  );
  await insertEvents(
    ch,
    events.map((e, i) => ({ event: e, meta: meta(100 + i) })),
  );
  assert.equal(await rawEventRowCount(ch, 'tenant-m'), 2 * N);
  const range = { tenant_id: 'tenant-m', from: new Date(Date.now() - 3_600_000), to: new Date(Date.now() + 1000) };
  assert.equal(await countEvents(ch, range), N);
  assert.equal((await findEvents(ch, range, { limit: 1000 })).length, N);
  assert.equal(
    (await hourlyCountsByAction(ch, range)).reduce((s, h) => s + h.count, 0),
    N,
  );
  assert.equal(await countEvents(ch, { ...range, actor_id: 'user-1' }), events.filter((e) => e.actor.id === 'user-1').length);
  assert.equal(await countEvents(ch, { ...range, resource_id: 'doc-2', resource_type: 'document' }), N / 5);
  assert.equal(await countEvents(ch, { ...range, actor_ip: '192.0.2.3' }), N / 4);
  assert.equal(await countEvents(ch, { ...range, action: 'auth.login', category: 'authentication', outcome: 'success' }), N / 2);
  const one = await getEvent(ch, 'tenant-m', events[3]?.event_id as string);
  assert.equal(one?.event.occurred_at, events[3]?.occurred_at);
  assert.deepEqual(one?.event.attributes, { i: '3', quote: "it's" });
  const injected = await countEvents(ch, { ...range, actor_id: "x' OR 1=1 --" });
  assert.equal(injected, 0);
});

test('a streamed batch (one JSON.stringify per chunk, rows separated by commas) stores what small batches of the same rows store', async () => {
  const texts = ['plain', 'Zo\u00eb "quoted" \\ back, {x}]', 'tab\tnew\nline', '\u0001\u001f\u007f', '\u2028\u4e2d\u{1F600}'];
  const producer = '0190a2b3-c4d5-7e6f-8a9b-0c1d2e3f4a5d';
  const n = STREAM_MIN_ROWS + 301;
  const at = Date.now() - 3_600_000;
  const events = Array.from({ length: n }, (_, i) => {
    const t = texts[i % texts.length] as string;
    return ev(i, {
      event_id: uuidv7(at + i),
      tenant_id: 'tenant-stream',
      occurred_at: (at + i) * 1000 + 7,
      reason: t,
      actor: { id: `user-${i % 3}`, type: 'user', name: i % 2 ? t : null },
      attributes: i % 4 ? { [t]: t, '10': 'ten', '2': 'two', '': 'empty key' } : {},
      ...(i % 3 ? { producer_id: producer, producer_seq: i } : {}),
    });
  });
  const rowsFor = (topic: string): EventRow[] =>
    events.map((e, i) => toRow(e, { received_at: at + i, ingested_at: at + i, kafka_topic: topic, kafka_partition: 0, kafka_offset: i }, 'modern'));
  await insertRows(ch, rowsFor('streamed'));
  const small = rowsFor('small');
  for (let i = 0; i < n; i += STREAM_MIN_ROWS - 1) await insertRows(ch, small.slice(i, i + STREAM_MIN_ROWS - 1));
  const read = (topic: string) =>
    ch.queryRows<Record<string, unknown>>(sql`SELECT * EXCEPT (kafka_topic) FROM ${table(DB, 'events')} WHERE kafka_topic = ${topic} ORDER BY kafka_offset`);
  const a = await read('streamed');
  assert.equal(a.length, n);
  assert.deepEqual(a, await read('small'));
  assert.equal(a[1]?.reason, texts[1]);
  assert.deepEqual(a[1]?.attributes, { [texts[1] as string]: texts[1], '10': 'ten', '2': 'two', '': 'empty key' });
  assert.equal(a[1]?.producer_id, producer);
});

test("RowBinary, modern layout: our encoding of rows is the engine's own RowBinary of the same rows inserted as JSONEachRow", async () => {
  // chDB's connection takes request bodies as text, so the rows go in as JSONEachRow here (binaryInserts
  // is off) and the check is of the encoding a modern server receives over HTTP.
  assert.equal(ch.binaryInserts, false);
  const texts = ['plain', 'Zo\u00eb "quoted" \\ back', 'tab\tnew\nline', '\u2028\u4e2d\u{1F600}', 'long '.repeat(40)];
  const at = Date.now() - 7_200_000;
  const rows = Array.from({ length: 30 }, (_, i) => {
    const t = texts[i % texts.length] as string;
    const e = ev(i, {
      event_id: uuidv7(at + i),
      tenant_id: 'tenant-rowbinary',
      occurred_at: (at + i) * 1000 + (i % 1000),
      reason: t,
      actor: { id: `user-${i}`, type: 'user', user_agent: i % 2 ? t : null },
      attributes: i % 4 ? { [t]: t, '10': 'ten', '2': 'two' } : {},
      ...(i % 3 ? { producer_id: '0190a2b3-c4d5-7e6f-8a9b-0c1d2e3f4a5d', producer_seq: 2 ** 40 + i } : {}),
    });
    return toRow(e, { received_at: at + i, ingested_at: at + i + 1, kafka_topic: 'rowbinary', kafka_partition: 0, kafka_offset: i, chain_seq: i }, 'modern');
  });
  await insertRows(ch, rows);
  const columns = eventColumnTypes('modern');
  const res = await ch.client.exec({
    query: `SELECT ${columns.map((c) => c.name).join(', ')} FROM ${DB}.events WHERE kafka_topic = 'rowbinary' ORDER BY kafka_offset FORMAT RowBinary`,
  });
  const parts: Buffer[] = [];
  for await (const b of res.stream) parts.push(b as Buffer);
  const encoded = rowBinaryEncoder(columns)(rows as unknown as Record<string, unknown>[], 0, rows.length);
  assert.ok(Buffer.concat(parts).equals(encoded), 'the engine writes these rows as RowBinary exactly as we encode them');
});

test('quoteString literals also round-trip on the modern engine', async () => {
  for (const s of ["O'Brien", '\\', '\0nul', 'tab\tnl\n', '🙂 中文', "'; DROP TABLE x; --"]) {
    const rows = await ch.queryRows<{ v: string }>(`SELECT ${quoteString(s)} AS v`);
    assert.equal(rows[0]?.v, s);
  }
});

test('retention on the modern path: TTL per tenant, held tenants never expire', async () => {
  const old = Date.UTC(2020, 0, 15);
  await insertEvents(ch, [
    { event: ev(1, { tenant_id: 'ttl-a', occurred_at: old * 1000 }), meta: meta(1) },
    { event: ev(2, { tenant_id: 'ttl-held', occurred_at: old * 1000 }), meta: meta(2) },
    { event: ev(3, { tenant_id: 'ttl-long', occurred_at: old * 1000 }), meta: meta(3) },
  ]);
  await placeLegalHold(ch, { tenant_id: 'ttl-held', reason: 'case 7' });
  assert.equal((await activeLegalHolds(ch)).length, 1);
  const recorded: AuditEventInput[] = [];
  const policy = parseRetentionPolicy({ default_days: { events: 30 }, tenant_overrides: { 'ttl-long': { events: 36500 } } });
  const res = await applyRetention(ch, { policy, recordEvent: async (e) => void recorded.push(e) });
  assert.equal(res.mode, 'ttl');
  assert.equal(recorded[0]?.action, 'retention.apply');
  await ch.command(`OPTIMIZE TABLE ${DB}.events FINAL`);
  const all = (t: string) => countEvents(ch, { tenant_id: t, from: new Date(Date.UTC(2019, 0, 1)), to: new Date(Date.now() + 60_000) });
  assert.equal(await all('ttl-a'), 0, 'expired under the default');
  assert.equal(await all('ttl-held'), 1, 'held');
  assert.equal(await all('ttl-long'), 1, 'longer override');
  assert.equal(await all('tenant-m'), 40, 'recent rows untouched');
  // The resource-sorted copy (migration 014, modern DDL) holds the same rows and gets events' TTL.
  await ch.command(`OPTIMIZE TABLE ${DB}.${RESOURCE_ROWS.table} FINAL`);
  const copy = await ch.queryRows<{ tenant_id: string; n: string }>(
    `SELECT tenant_id, toString(uniqExact(event_id)) AS n FROM ${DB}.${RESOURCE_ROWS.table} WHERE tenant_id LIKE 'ttl-%' OR tenant_id = 'tenant-m' GROUP BY tenant_id ORDER BY tenant_id`,
  );
  assert.deepEqual(
    copy.map((r) => [r.tenant_id, Number(r.n)]),
    [
      ['tenant-m', 40],
      ['ttl-held', 1],
      ['ttl-long', 1],
    ],
  );
  const [attrs] = await ch.queryRows<{ a: string }>(`SELECT attributes['quote'] AS a FROM ${DB}.${RESOURCE_ROWS.table} WHERE tenant_id = 'tenant-m' LIMIT 1`);
  assert.equal(attrs?.a, "it's", 'the attributes map is copied');
});

test('modern layout: stored as sent (null stays null, values and "" attribute values kept; optional "" is what the validator rejects)', async () => {
  await migrate(ch);
  await assertStoredAsSent(ch, 'tenant-sent');
});
