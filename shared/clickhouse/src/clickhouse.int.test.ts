import assert from 'node:assert/strict';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { configSchema, loadConfig } from '@auditstream/config';
import { AuditstreamError, sleep, stateDir, uniqueName, uuidv7 } from '@auditstream/core';
import { createLogger } from '@auditstream/observability';
import { MIGRATIONS } from '../migrations/index.js';
import { renderUsersFragment, sha256Hex } from './accounts.js';
import { type ClickHouse, createClickHouse } from './client.js';
import { migrate, migrationStatus } from './migrate.js';
import { countEvents, findEvents, getEvent, hourlyCountsByAction, rawEventRowCount } from './queries.js';
import { activeLegalHolds, applyRetention, parseRetentionPolicy, placeLegalHold, releaseLegalHold } from './retention.js';
import { rowBinaryEncoder } from './row-binary.js';
import { type AuditEventInput, type EventRow, insertEventRows, insertEvents, insertRows, toRow } from './rows.js';
import { eventColumnTypes, RESOURCE_ROWS } from './schema.js';
import { quoteString, sql } from './sql.js';
import { assertStoredAsSent } from './stored-as-sent.test-helper.js';

// Integration tests against the real ClickHouse (the local stack's, or AUDITSTREAM_CLICKHOUSE__URL).
const cfg = loadConfig(configSchema, {}).clickhouse;
const logger = createLogger({ service: 'clickhouse-int-test', level: 'warn' });
const DB = uniqueName('audit_it');
let ch: ClickHouse;

function makeEvent(i: number, over: Partial<AuditEventInput> = {}, atMs = Date.now()): AuditEventInput {
  return {
    event_id: uuidv7(atMs),
    tenant_id: 'tenant-a',
    occurred_at: atMs * 1000 + (i % 1000),
    actor: { id: `user-${i % 5}`, type: 'user', ip: `10.0.0.${i % 3}` },
    action: i % 2 ? 'auth.login' : 'document.read',
    category: i % 2 ? 'authentication' : 'resource_access',
    outcome: 'success',
    service: 'it',
    resource: i % 2 ? null : { type: 'document', id: `doc-${i % 4}` },
    attributes: { i: String(i) },
    ...over,
  };
}
const meta = (offset: number) => ({ received_at: Date.now(), kafka_topic: 'audit.events', kafka_partition: 0, kafka_offset: offset });

before(async () => {
  ch = createClickHouse({ ...cfg, database: DB }, { logger });
});
after(async () => {
  await ch.command(`DROP DATABASE IF EXISTS ${DB}`);
  await ch.close();
});

describe('ClickHouse storage against the real server', () => {
  test('migrate creates the schema; a second run is a no-op and says so; status lists everything applied', async () => {
    const dry = await migrate(ch, { dryRun: true });
    assert.equal(dry.noop, false);
    assert.ok(dry.statements.length > 5);
    assert.deepEqual((await migrationStatus(ch)).pending, dry.pending, 'a dry run changes nothing');
    const first = await migrate(ch);
    assert.deepEqual(
      first.applied,
      MIGRATIONS.map((m) => m.id).filter((id) => dry.pending.includes(id)),
    );
    const second = await migrate(ch);
    assert.equal(second.noop, true);
    assert.deepEqual(second.applied, []);
    assert.equal(second.statements.length, 0, 'no DDL at all on the second run');
    assert.match(second.message, /up to date.*nothing to do/);
    const st = await migrationStatus(ch);
    assert.deepEqual(st.pending, []);
    assert.ok(st.entries.every((e) => e.applied && !e.drift));
  });

  test('duplicate delivery of N events leaves every query helper count unchanged', async () => {
    const N = 60;
    const now = Date.now();
    const events = Array.from({ length: N }, (_, i) => makeEvent(i, {}, now - i * 1000));
    await insertEvents(
      ch,
      events.map((event, i) => ({ event, meta: meta(i) })),
    );
    const range = { tenant_id: 'tenant-a', from: new Date(now - 3_600_000), to: new Date(now + 1000) };
    const before = {
      count: await countEvents(ch, range),
      actor: await countEvents(ch, { ...range, actor_id: 'user-1' }),
      resource: await countEvents(ch, { ...range, resource_id: 'doc-0' }),
      ip: await countEvents(ch, { ...range, actor_ip: '10.0.0.2' }),
      found: (await findEvents(ch, range, { limit: 1000 })).length,
      hourly: (await hourlyCountsByAction(ch, range)).reduce((s, h) => s + h.count, 0),
    };
    assert.equal(before.count, N);
    assert.equal(before.found, N);
    assert.equal(before.hourly, N);
    assert.equal(before.actor, N / 5);
    // Re-delivery: the same messages again (same offsets, later ingest); then the same events
    // published a second time by their producer (other offsets).
    await insertEvents(
      ch,
      events.slice(0, 30).map((event, i) => ({ event, meta: meta(i) })),
    );
    await insertEvents(
      ch,
      events.map((event, i) => ({ event, meta: meta(2000 + i) })),
    );
    assert.equal(await rawEventRowCount(ch, 'tenant-a'), 2 * N + 30, 'the copies are there, not yet merged');
    const afterDup = {
      count: await countEvents(ch, range),
      actor: await countEvents(ch, { ...range, actor_id: 'user-1' }),
      resource: await countEvents(ch, { ...range, resource_id: 'doc-0' }),
      ip: await countEvents(ch, { ...range, actor_ip: '10.0.0.2' }),
      found: (await findEvents(ch, range, { limit: 1000 })).length,
      hourly: (await hourlyCountsByAction(ch, range)).reduce((s, h) => s + h.count, 0),
    };
    assert.deepEqual(afterDup, before);
    const byActor = await findEvents(ch, { ...range, actor_id: 'user-1' }, { limit: 1000 });
    assert.ok(byActor.every((e) => e.event.actor.id === 'user-1'));
    assert.equal(new Set(byActor.map((e) => e.event.event_id)).size, byActor.length);
    const one = await getEvent(ch, 'tenant-a', events[7]?.event_id as string);
    assert.equal(one?.event.occurred_at, events[7]?.occurred_at, 'microseconds survive the round trip');
    assert.deepEqual(one?.event.attributes, { i: '7' });
    // The engine collapses re-delivered copies of a message once parts merge (same sorting key:
    // the event's columns, then its Kafka source); the second publication is other messages and stays.
    await ch.command(`OPTIMIZE TABLE ${DB}.events FINAL`);
    assert.equal(await rawEventRowCount(ch, 'tenant-a'), 2 * N);
    assert.equal(await countEvents(ch, range), N);
  });

  test('stored as sent on this server\'s layout (legacy on 18.16): null stays null, values and "" attribute values kept', async () => {
    await assertStoredAsSent(ch, 'tenant-sent');
  });

  test("RowBinary INSERT: our encoding is the server's own RowBinary of the same rows inserted as JSONEachRow, and is stored as is", async () => {
    assert.equal(ch.binaryInserts, true, 'the default insert format over HTTP');
    const ua = `Mozilla/5.0 ${'(compatible; très long agent €) '.repeat(8)}`;
    const rows = Array.from({ length: 40 }, (_, i) => {
      const e = makeEvent(i, {
        tenant_id: 'tenant-rb',
        reason: i % 3 ? null : 'naïve 😀 reason',
        actor: { id: `user-${i}`, type: i % 2 ? 'service' : 'user', ip: '203.0.113.7', user_agent: i % 4 ? ua : null },
        attributes: i % 5 ? { a: 'x', [`k${i}`]: 'ü'.repeat(i) } : {},
        ...(i % 2 ? { producer_id: uuidv7(), producer_seq: 2 ** 40 + i } : {}),
      });
      return toRow(e, { ...meta(1000 + i), kafka_offset: `${9_007_199_254_740_993n + BigInt(i)}`, chain_seq: i, hash: 'ab'.repeat(32) }, 'legacy');
    });
    await insertEventRows(ch, rows);
    const columns = eventColumnTypes('legacy');
    const encoded = (r: readonly EventRow[]) => rowBinaryEncoder(columns)(r as unknown as Record<string, unknown>[], 0, r.length);
    const read = async (tenant: string) => {
      const names = columns.map((c) => c.name).join(', ');
      const res = await ch.client.exec({ query: `SELECT ${names} FROM ${DB}.events WHERE tenant_id = '${tenant}' ORDER BY kafka_offset FORMAT RowBinary` });
      const parts: Buffer[] = [];
      for await (const b of res.stream) parts.push(b as Buffer);
      return Buffer.concat(parts);
    };
    const stored = await read('tenant-rb');
    assert.ok(stored.length > 0 && stored.equals(encoded(rows)), 'the stored rows are byte for byte the ones sent');
    // The check of the encoding itself: the same rows inserted as JSONEachRow (the other insert_format),
    // which the server parses, read back as exactly the bytes we encode for them.
    const asJson = rows.map((r) => ({ ...r, tenant_id: 'tenant-rb-json' }));
    const json = createClickHouse({ ...cfg, database: DB, insert_format: 'json_each_row' }, { logger });
    assert.equal(json.binaryInserts, false);
    await insertEventRows(json, asJson);
    await json.close();
    const fromJson = await read('tenant-rb-json');
    assert.ok(fromJson.equals(encoded(asJson)), 'the server writes the JSONEachRow rows as RowBinary exactly as we encode them');
  });

  test('microsecond time ranges are exact', async () => {
    const base = Date.UTC(2024, 0, 2, 3, 4, 5) * 1000;
    const evs = [0, 999_999, 1_000_000].map((d, i) => makeEvent(i, { tenant_id: 'tenant-us', occurred_at: base + d }));
    await insertEvents(
      ch,
      evs.map((event, i) => ({ event, meta: meta(i) })),
    );
    const c = (from: number, to: number) => countEvents(ch, { tenant_id: 'tenant-us', from: BigInt(from), to: BigInt(to) });
    assert.equal(await c(base, base + 1), 1);
    assert.equal(await c(base + 1, base + 1_000_000), 1);
    assert.equal(await c(base, base + 1_000_001), 3);
    assert.equal(await c(base + 999_999, base + 1_000_000), 1);
  });

  test('a bad row is CLICKHOUSE_DATA (dead-letter), a missing table CLICKHOUSE_SCHEMA, wrong credentials CLICKHOUSE_AUTH', async () => {
    const row = toRow(makeEvent(1, { tenant_id: 'tenant-bad' }), meta(1), 'legacy');
    await assert.rejects(
      insertRows(ch, [{ ...row, event_id: 'not-a-uuid' }]),
      (e: unknown) => e instanceof AuditstreamError && e.code === 'CLICKHOUSE_DATA' && !e.retriable && e.field === 'event_id',
    );
    await assert.rejects(ch.queryRows(`SELECT 1 FROM ${DB}.nope`), (e: unknown) => e instanceof AuditstreamError && e.code === 'CLICKHOUSE_SCHEMA');
    const bad = createClickHouse({ ...cfg, database: DB, password: 'definitely-wrong' }, { logger });
    await assert.rejects(bad.queryRows('SELECT 1'), (e: unknown) => e instanceof AuditstreamError && e.code === 'CLICKHOUSE_AUTH' && !e.retriable);
    await bad.close();
    const down = createClickHouse({ ...cfg, url: 'http://127.0.0.1:1', database: DB }, { logger });
    await assert.rejects(down.queryRows('SELECT 1'), (e: unknown) => e instanceof AuditstreamError && e.code === 'CLICKHOUSE_UNAVAILABLE' && e.retriable);
    await down.close();
    const slow = createClickHouse({ ...cfg, database: DB, max_execution_time_s: 1 }, { logger });
    await assert.rejects(
      slow.queryRows('SELECT count() FROM system.numbers WHERE NOT ignore(sleep(0.001))'),
      (e: unknown) => e instanceof AuditstreamError && e.code === 'CLICKHOUSE_TIMEOUT' && e.retriable,
    );
    await slow.close();
  });

  test('quoteString round-trips every payload through the real server (old-server path)', async () => {
    const payloads = [
      '',
      "O'Brien",
      "''",
      '\\',
      "\\'",
      "\\\\'",
      "it's \\ here",
      '\0',
      'a\0b',
      'line1\nline2\r\n\tend',
      '\x01\x02\x1b[31m\x7f',
      'ünïcödé — 中文 — العربية — 🙂👍🏽',
      '\u2028\u2029\ufeff',
      "'; DROP TABLE audit.events; --",
      "' OR '1'='1",
      "x' UNION SELECT name FROM system.tables --",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal placeholder is the payload
      '${p0}{p0:String}',
      "\\x27'",
      '?',
      "\\0' || '",
      'a'.repeat(10_000),
    ];
    const caps = await ch.capabilities();
    for (const s of payloads) {
      const rows = await ch.queryRows<{ v: string; n: string | number }>(`SELECT ${quoteString(s)} AS v, length(${quoteString(s)}) AS n`);
      assert.equal(rows[0]?.v, s, `round trip of ${JSON.stringify(s).slice(0, 60)}`);
      assert.equal(Number(rows[0]?.n), Buffer.byteLength(s), 'byte length');
      // And through the builder, whichever path the server takes.
      const viaBuilder = await ch.queryRows<{ v: string }>(sql`SELECT ${s} AS v`);
      assert.equal(viaBuilder[0]?.v, s);
    }
    assert.equal(caps.queryParams, caps.major >= 20, 'this server takes the path its version implies');
  });

  test('retention: dry run changes nothing; apply drops only partitions expired for every tenant and not held', async () => {
    const caps = await ch.capabilities();
    if (caps.ttl) return; // TTL servers are covered by the chDB suite
    const at = (y: number, m: number) => Date.UTC(y, m - 1, 10);
    const ev = (tenant: string, t: number, i: number) => ({ event: makeEvent(i, { tenant_id: tenant, occurred_at: t * 1000 }), meta: meta(i) });
    await insertEvents(ch, [
      ev('ret-a', at(2020, 1), 1),
      ev('ret-b', at(2020, 1), 2),
      ev('ret-a', at(2020, 2), 3),
      ev('ret-held', at(2020, 2), 4),
      ev('ret-long', at(2020, 3), 5),
      ev('ret-a', Date.now(), 6),
    ]);
    const policy = parseRetentionPolicy({ default_days: { events: 30 }, tenant_overrides: { 'ret-long': { events: 36500 } } });
    const hold = await placeLegalHold(ch, { tenant_id: 'ret-held', reason: 'litigation 42' });
    assert.deepEqual(
      (await activeLegalHolds(ch)).map((h) => h.tenant_id),
      ['ret-held'],
    );
    const recorded: AuditEventInput[] = [];
    const recordEvent = async (e: AuditEventInput) => {
      recorded.push(e);
    };
    const parts = async (t = 'events') =>
      (
        await ch.queryRows<{ p: string }>(sql`SELECT DISTINCT partition AS p FROM system.parts WHERE database = ${DB} AND table = ${t} AND active ORDER BY p`)
      ).map((r) => r.p);
    const before = await parts();
    const copyBefore = await parts(RESOURCE_ROWS.table);
    const dry = await applyRetention(ch, { policy, dryRun: true, recordEvent });
    assert.deepEqual(await parts(), before, 'dry run drops nothing');
    const planned = Object.fromEntries(dry.decisions.filter((d) => d.table === 'events').map((d) => [d.partition, d.drop]));
    assert.equal(planned['202001'], true);
    assert.equal(planned['202002'], false, 'held tenant in the month');
    assert.equal(planned['202003'], false, 'tenant with a longer override in the month');
    assert.ok(
      dry.statements.some((s) => /events_by_actor` DROP PARTITION 202001/.test(s)),
      'lookup tables follow',
    );
    assert.equal(recorded.at(-1)?.action, 'retention.plan');
    assert.equal(recorded.at(-1)?.attributes?.dry_run, 'true');

    const applied = await applyRetention(ch, { policy, recordEvent });
    assert.ok(applied.dropped.some((d) => d.table === 'events' && d.partition === '202001'));
    assert.ok(!(await parts()).includes('202001'));
    // The resource-sorted copy of the rows (migration 014) loses the month with events and keeps the others.
    const copyParts = await parts(RESOURCE_ROWS.table);
    assert.ok(copyBefore.includes('202001') && !copyParts.includes('202001') && copyParts.includes('202002'), `${copyBefore} → ${copyParts}`);
    const all = (t: string) => countEvents(ch, { tenant_id: t, from: new Date(at(2019, 1)), to: new Date(Date.now() + 60_000) });
    assert.equal(await all('ret-b'), 0);
    assert.equal(await all('ret-held'), 1, 'the held tenant lost nothing');
    assert.equal(await all('ret-long'), 1);
    assert.equal(await all('ret-a'), 2, 'ret-a keeps the months shared with held/long tenants and the current one');
    assert.equal(recorded.at(-1)?.action, 'retention.apply');
    assert.match(String(recorded.at(-1)?.attributes?.dropped_partitions), /events:202001/);

    assert.equal(await releaseLegalHold(ch, { tenant_id: 'ret-held', hold_id: hold.hold_id }), true);
    assert.deepEqual(await activeLegalHolds(ch), []);
    await applyRetention(ch, { policy, recordEvent });
    assert.equal(await all('ret-held'), 0, 'after release the month goes');
    assert.equal(await all('ret-long'), 1);
  });
});

/**
 * Privileges: render the users.d fragment for this test's database with unique account names,
 * put it where the running server reads users.d (ClickHouse reloads users config by itself),
 * and check what each account can and cannot do. Fails when no users.d of the running server
 * is writable here.
 */
describe('least-privilege accounts on the real server', () => {
  const suffix = uniqueName('x').slice(-8);
  const names = { ingest: `it_ingest_${suffix}`, reader: `it_reader_${suffix}`, admin: `it_admin_${suffix}` };
  const passwords = { ingest: 'pw-ingest', reader: 'pw-reader', admin: 'pw-admin' };
  let fragment: string | undefined;
  const clients: ClickHouse[] = [];
  const as = (role: keyof typeof names) => {
    const c = createClickHouse({ ...cfg, database: DB, username: names[role], password: passwords[role] }, { logger });
    clients.push(c);
    return c;
  };

  before(async () => {
    const xml = renderUsersFragment({
      database: DB,
      names,
      passwordSha256: { ingest: sha256Hex(passwords.ingest), reader: sha256Hex(passwords.reader), admin: sha256Hex(passwords.admin) },
    });
    const candidates = [process.env.AUDITSTREAM_CLICKHOUSE_USERS_D, join(stateDir(), 'clickhouse', 'users.d'), '/tmp/ch/users.d'].filter(
      (d): d is string => !!d && existsSync(d),
    );
    for (const dir of candidates) {
      const file = join(dir, `zz_${names.ingest}.xml`);
      writeFileSync(file, xml);
      const probe = as('reader');
      for (let i = 0; i < 30 && !(await probe.ping()); i++) await sleep(500);
      if (await probe.ping()) {
        fragment = file;
        return;
      }
      rmSync(file, { force: true });
    }
  });
  after(async () => {
    for (const c of clients) await c.close();
    if (fragment) rmSync(fragment, { force: true });
  });

  test('ingest and reader cannot ALTER, DELETE, DROP or TRUNCATE audit tables; admin can run retention DDL', async () => {
    // Never skipped: the local stack always has a users.d; a run without one is a broken setup.
    assert.ok(fragment, 'no writable users.d of the running ClickHouse was found (set AUDITSTREAM_CLICKHOUSE_USERS_D)');
    await migrate(ch); // tables exist (no-op when the suite above ran)
    const ingest = as('ingest');
    const reader = as('reader');
    const admin = as('admin');
    const destructive = [
      `ALTER TABLE ${DB}.events DELETE WHERE 1`,
      `ALTER TABLE ${DB}.events UPDATE reason = 'x' WHERE 1`,
      `ALTER TABLE ${DB}.events DROP PARTITION 202001`,
      `ALTER TABLE ${DB}.events ADD COLUMN evil UInt8`,
      `DROP TABLE ${DB}.events`,
      `TRUNCATE TABLE ${DB}.events`,
      `RENAME TABLE ${DB}.events TO ${DB}.events_gone`,
      `OPTIMIZE TABLE ${DB}.events FINAL`,
      `CREATE TABLE ${DB}.evil (a UInt8) ENGINE = Memory`,
      `DROP DATABASE ${DB}`,
    ];
    for (const [who, c] of [
      ['ingest', ingest],
      ['reader', reader],
    ] as const) {
      for (const stmt of destructive) {
        await assert.rejects(c.command(stmt), (e: unknown) => e instanceof AuditstreamError && e.code === 'CLICKHOUSE_DENIED', `${who} must not run: ${stmt}`);
      }
    }
    // The reader cannot lift readonly, not even as an HTTP parameter.
    await assert.rejects(
      reader.command('SELECT 1', { settings: { readonly: 0 } as never }),
      (e: unknown) => (e as AuditstreamError).code === 'CLICKHOUSE_DENIED',
    );
    // Known gap, kept visible: 18.16 checks allow_ddl for `SET`/`SETTINGS` but not for settings passed
    // as HTTP parameters, so an ingest credential that sends allow_ddl=1 gets DDL back on its database
    // (docs/storage.md, "What 18.16 does not enforce"). Only a harmless SELECT here.
    const caps = await ch.capabilities();
    await assert.rejects(ingest.command('SELECT 1 SETTINGS allow_ddl = 1'), (e: unknown) => (e as AuditstreamError).code === 'CLICKHOUSE_DENIED');
    if (!caps.sqlUsers) await ingest.command('SELECT 1', { settings: { allow_ddl: 1 } as never });
    // What each may do.
    await insertEvents(ingest, [{ event: makeEvent(1, { tenant_id: 'priv' }), meta: meta(1) }]);
    await assert.rejects(
      insertEvents(reader, [{ event: makeEvent(2, { tenant_id: 'priv' }), meta: meta(2) }]),
      (e: unknown) => e instanceof AuditstreamError && e.code === 'CLICKHOUSE_DENIED',
    );
    assert.equal(await countEvents(reader, { tenant_id: 'priv', from: new Date(Date.now() - 60_000), to: new Date(Date.now() + 60_000) }), 1);
    // Other databases are out of reach.
    await assert.rejects(reader.queryRows('SELECT count() FROM default.nonexistent_or_not'), AuditstreamError);
    await assert.rejects(
      ingest.command(`CREATE DATABASE IF NOT EXISTS ${DB}_other`),
      (e: unknown) => e instanceof AuditstreamError && e.code === 'CLICKHOUSE_DENIED',
    );
    // Admin: migrations and retention.
    assert.equal((await migrate(admin)).noop, true);
    await admin.command(`ALTER TABLE ${DB}.events DROP PARTITION 190001`);
    // Still intact after all that.
    assert.ok((await rawEventRowCount(ch, 'priv')) >= 1);
  });
});
