// Integration (real ClickHouse 18.16): the page reads through events_by_id return the rows of the
// plain read, and the search's window (searchWindow, read from the hourly
// rollup of migration 011 or a lookup table) changes where a page is read first, never what it
// holds. Every page of many filters, both orders and several page sizes equals the page read in
// one pass over the whole range, on data with re-delivered copies, reused event ids with other
// content (another actor, another hour), three tenants, and a rollup that lies in both directions.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { BY_ID, MIGRATIONS, migrate, ROLLUP } from '@auditstream/clickhouse';
import { freshDatabase, insert, makeEvents } from '../int.test-helper.js';
import type { TenantScope } from '../scope.js';
import { type EventKey, getEventById, pageKeys, pageKeysInRange, pageRows } from './events.js';
import type { EventQuery } from './scope-sql.js';
import { searchWindow } from './window.js';

const HOUR_US = 3_600_000_000;
const BASE_US = Date.UTC(2026, 2, 1, 0, 17) * 1000; // not on an hour
const STEP_US = 20_000_000; // 3 events per 20 s: 3,000 events over ~5.5 hours
const N = 3000;
const FROM = BigInt(BASE_US - 1);
const TO = BigInt(BASE_US + (N / 3) * STEP_US + 1);

let db: Awaited<ReturnType<typeof freshDatabase>>;

before(async () => {
  db = await freshDatabase('api_it_window');
  const events = makeEvents(N, BASE_US, STEP_US);
  await insert(db.ch, events);
  // Copies: the newest 150 and 60 from the middle, stored again (another Kafka message each).
  await insert(db.ch, [...events.slice(-150), ...events.slice(1500, 1560)]);
  // Reused ids with other content: another actor and two hours earlier, received later.
  const reused = events.slice(-40).map((e) => ({
    ...e,
    occurred_at: Number(e.occurred_at) - 2 * HOUR_US,
    actor: { ...e.actor, id: `${e.actor.id}-again` },
  }));
  await insert(db.ch, reused);
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
  none: {},
  action: { action: 'auth.login' },
  actor: { actor_id: 'u3' },
  'actor reused': { actor_id: 'u3-again' },
  resource: { resource_id: 'r4' },
  'resource+type': { resource_type: 'document', resource_id: 'r0' },
  ip: { source_ip: '10.0.1.1' },
  'outcome (not in the rollup)': { outcome: 'failure' },
  'action+actor': { action: 'auth.login', actor_id: 'u5' },
};

/** Every page, through `read`, until a short page. */
async function allPages(read: (after: EventKey | undefined) => Promise<EventKey[]>, size: number): Promise<EventKey[][]> {
  const pages: EventKey[][] = [];
  let cursor: EventKey | undefined;
  for (;;) {
    const page = await read(cursor);
    pages.push(page);
    if (page.length < size) return pages;
    cursor = page.at(-1);
  }
}

async function comparePages(label: string, query: EventQuery, order: 'asc' | 'desc', size: number): Promise<number> {
  const fast = await allPages((after) => pageKeys(db.ch, query, { order, want: size, after }), size);
  const plain = await allPages((after) => pageKeysInRange(db.ch, query, { order, want: size, after }), size);
  assert.deepEqual(fast, plain, `${label} ${order} pages of ${size}`);
  for (const page of fast) {
    if (page.length === 0) continue;
    const narrow = await pageRows(db.ch, query.scope, page, { order });
    const plainRows = await pageRows(db.ch, query.scope, page, { order, narrow: false });
    assert.equal(plainRows.length, new Set(page.map((k) => k.id)).size, `${label}: one row per event id of the page`);
    assert.deepEqual(narrow, plainRows, `${label} ${order}: the same rows through events_by_id`);
  }
  return plain.flat().length;
}

async function rollupAgrees(database: string): Promise<void> {
  const q = (from: string, count: string) =>
    db.ch.queryRows<Record<string, string>>(
      `SELECT tenant_id, toString(hour) AS h, action, actor_id, toString(${count}) AS n FROM ${from} GROUP BY tenant_id, h, action, actor_id ORDER BY tenant_id, h, action, actor_id`,
    );
  const rollup = await q(`${database}.${ROLLUP.table}`, 'sum(rows)');
  const events = await q(`(SELECT tenant_id, toStartOfHour(occurred_at) AS hour, action, actor_id FROM ${database}.events)`, 'count()');
  assert.ok(events.length > 100);
  assert.deepEqual(rollup, events);
}

test('the rollup counts every stored row per tenant, hour, action and actor (view on insert)', async () => {
  await rollupAgrees(db.database);
});

test('events_by_id gets the id and key prefix of every stored row (view on insert)', async () => {
  const q = (t: string) =>
    db.ch.queryRows<{ n: string }>(`SELECT toString(count()) AS n FROM (SELECT DISTINCT tenant_id, event_id, action, actor_id FROM ${db.database}.${t})`);
  assert.deepEqual(await q(BY_ID.table), await q('events'));
});

test('migration 011 backfills the rollup from the events stored before it', async () => {
  const database = `${db.database}_backfill`;
  try {
    await migrate(db.ch, { database, migrations: MIGRATIONS.filter((m) => m.id !== '011_query_rollups' && m.id !== '012_exact_counts') });
    await db.ch.command(`INSERT INTO ${database}.events SELECT * FROM ${db.database}.events`);
    await migrate(db.ch, { database });
    await rollupAgrees(database);
    const pairs = (d: string, t: string) =>
      db.ch.queryRows<Record<string, string>>(
        `SELECT DISTINCT tenant_id, toString(event_id) AS id, toString(occurred_at) AS t, action, actor_id FROM ${d}.${t} ORDER BY tenant_id, id, t, action, actor_id`,
      );
    const byId = await pairs(database, BY_ID.table);
    assert.ok(byId.length > N);
    assert.deepEqual(byId, await pairs(database, 'events'), "events_by_id holds every stored row's id and key prefix");
  } finally {
    await db.ch.command(`DROP DATABASE IF EXISTS ${database}`);
  }
});

test('every page of the windowed search equals the one-pass read (filters × scopes × orders × sizes)', { timeout: 600_000 }, async () => {
  let windows = 0;
  for (const [sname, scope] of Object.entries(scopes)) {
    for (const [fname, f] of Object.entries(filters)) {
      const query: EventQuery = { scope, from: FROM, to: TO, ...f };
      for (const order of ['desc', 'asc'] as const) {
        for (const size of [60, 500]) {
          if (await searchWindow(db.ch, query, { order, want: size })) windows++;
          const n = await comparePages(`${sname} / ${fname}`, query, order, size);
          if (fname === 'none' && sname === 'all') assert.equal(n, N + 40, 'every event once, each reused id once more (other time)');
        }
      }
    }
  }
  assert.ok(windows > 10, `the window was used (${windows} times)`);
});

test('a window that holds too few events continues over the rest of the range; an empty hint reads the whole range', async () => {
  // The rollup claims a million rows in the newest hour of acme: the window is that hour only.
  const newest = Math.floor((Number(TO) - 1) / HOUR_US) * HOUR_US;
  await db.ch.command(
    `INSERT INTO ${db.database}.${ROLLUP.table} (tenant_id, hour, action, actor_id, rows) VALUES ('acme', ${Math.floor(newest / 1e6)}, 'auth.login', 'u0', 1000000)`,
  );
  const query: EventQuery = { scope: scopes.acme as TenantScope, from: FROM, to: TO };
  const w = await searchWindow(db.ch, query, { order: 'desc', want: 500 });
  assert.deepEqual(w, { from: BigInt(newest), to: TO });
  assert.ok((await comparePages('lying rollup', query, 'desc', 500)) > 0);
  // A tenant the rollup does not know: no window, one read.
  const none: EventQuery = { scope: { all: false, tenants: ['nobody'] }, from: FROM, to: TO };
  assert.equal(await searchWindow(db.ch, none, { order: 'desc', want: 10 }), undefined);
  assert.deepEqual(await pageKeys(db.ch, none, { order: 'desc', want: 10 }), []);
});

test('page rows are the stored rows shown for their ids, without the chain columns (not read)', async () => {
  let compared = 0;
  for (const order of ['desc', 'asc'] as const) {
    const query: EventQuery = { scope: scopes.acme as TenantScope, from: FROM, to: TO };
    const page = await pageKeys(db.ch, query, { order, want: 60 });
    const rows = await pageRows(db.ch, query.scope, page, { order });
    assert.equal(rows.length, 60);
    for (const row of rows) {
      assert.ok(!('hash' in row.meta) && !('prev_hash' in row.meta) && !('chain_seq' in row.meta), 'no chain fields on a page row');
      const shown = await getEventById(db.ch, query.scope, row.event.event_id);
      assert.ok(shown);
      // A reused id's first received row may be outside the page's time: compare the rows of the same event only.
      if (shown.event.occurred_at !== row.event.occurred_at) continue;
      const { chain_seq: _seq, prev_hash: _prev, hash: _hash, ...meta } = shown.meta;
      assert.deepEqual(row, { event: shown.event, meta });
      compared++;
    }
  }
  assert.ok(compared > 60, `rows compared: ${compared}`);
});
