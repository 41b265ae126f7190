// Integration (real ClickHouse 18.16): top actors and the hourly series read from the rollup made
// exact (exact-counts.ts, migration 012) equal the distinct events counted over events' shown rows
// (identity.ts: one row per event_id, the first received), on data with re-delivered copies of a
// message (in later batches and within one batch), the same event sent as another message, and ids
// reused with other content in another hour and actor (received later, and received earlier, which
// moves the event to the copy's group), over aligned and unaligned ranges. Copies stored before
// migration 012 are found by its one-off scan.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  type AuditEventInput,
  type ClickHouse,
  firstReceivedOrder,
  insertEvents,
  layoutFor,
  MIGRATIONS,
  migrate,
  ROLLUP,
  ROW_COUNTS,
  render,
  toRow,
} from '@auditstream/clickhouse';
import { mergeFully } from '@auditstream/test';
import { freshDatabase, makeEvents } from '../int.test-helper.js';
import type { TenantScope } from '../scope.js';
import type { EventQuery } from './scope-sql.js';
import { INTERVALS, type IntervalName, timeseries, top } from './stats.js';

const HOUR_US = 3_600_000_000;
const BASE_US = Date.UTC(2026, 2, 1, 0, 17) * 1000; // not on an hour
const STEP_US = 20_000_000;
const N = 3000;
const FROM = BigInt(BASE_US - 1);
const TO = BigInt(BASE_US + (N / 3) * STEP_US + 1);

let offset = 0;
type Item = { event: AuditEventInput; offset?: number; receivedMs?: number };
/** Rows as ingest stores them; `offset` given: a re-delivery of that Kafka message. */
function items(list: readonly Item[]) {
  return list.map(({ event, offset: o, receivedMs }) => {
    const off = o ?? ++offset;
    return {
      event,
      meta: {
        received_at: receivedMs ?? Math.floor(Number(event.occurred_at) / 1000) + 500,
        kafka_topic: 'audit.events',
        kafka_partition: 0,
        kafka_offset: off,
        chain_seq: off,
        prev_hash: 'a'.repeat(64),
        hash: 'b'.repeat(64),
      },
    };
  });
}

/** Stores the data set; returns the offsets given to the originals. */
async function seed(store: (rows: ReturnType<typeof items>) => Promise<void>): Promise<void> {
  offset = 0;
  const events = makeEvents(N, BASE_US, STEP_US);
  await store(items(events.map((event) => ({ event })))); // offsets 1..N
  // Re-delivered messages (same offset) in a later batch, and twice within one batch.
  await store(items(events.slice(-150).map((event, i) => ({ event, offset: N - 149 + i }))));
  await store(items([...events.slice(1500, 1530), ...events.slice(1500, 1530)].map((event, i) => ({ event, offset: 1501 + (i % 30) }))));
  // The same event sent again as another message (a duplicate).
  await store(items(events.slice(600, 660).map((event) => ({ event }))));
  // Reused ids with other content, two hours earlier and another actor: received later (the original is shown) …
  const later = events
    .slice(-40)
    .map((e) => ({ event: { ...e, occurred_at: Number(e.occurred_at) - 2 * HOUR_US, actor: { ...e.actor, id: `${e.actor.id}-again` } } }));
  await store(items(later));
  // … and received before the original (the copy is shown: the event moves to its hour and actor).
  const earlier = events.slice(900, 930).map((e) => ({
    event: { ...e, occurred_at: Number(e.occurred_at) + HOUR_US + 7_000_000, actor: { ...e.actor, id: `${e.actor.id}-first` }, action: 'auth.login' },
    receivedMs: Math.floor(Number(e.occurred_at) / 1000) - 60_000,
  }));
  await store(items(earlier));
}

let db: Awaited<ReturnType<typeof freshDatabase>>;
let backfilled: Awaited<ReturnType<typeof freshDatabase>>;

before(async () => {
  db = await freshDatabase('api_it_exact');
  await seed((rows) => insertEvents(db.ch, rows));
  // A database whose rows were stored before migration 012 (plain INSERTs, no check), then migrated.
  backfilled = await freshDatabase('api_it_exact_bf');
  await backfilled.ch.command(`DROP DATABASE \`${backfilled.database}\``);
  await migrate(backfilled.ch, { migrations: MIGRATIONS.filter((m) => m.id < '012') });
  const layout = layoutFor(await backfilled.ch.capabilities());
  await seed(async (rows) => {
    await backfilled.ch.insertJson(
      'events',
      rows.map((r) => toRow(r.event, r.meta, layout) as unknown as Record<string, unknown>),
    );
  });
  await mergeFully(backfilled.ch, backfilled.database, 'events'); // merged copies: 011's rollup counted them, events no longer holds them
  await migrate(backfilled.ch);
});

after(async () => {
  await db?.drop();
  await backfilled?.drop();
});

/** The reference: distinct events over each id's shown row (first received), as the search pages show them. */
async function reference(ch: ClickHouse, database: string, q: EventQuery, select: string, groupBy: string): Promise<Record<string, string | number>[]> {
  const layout = layoutFor(await ch.capabilities());
  const order = render(firstReceivedOrder(layout), { queryParams: false }).query;
  const secs = layout === 'modern' ? 'toUInt32(toDateTime(occurred_at))' : 'toUInt32(occurred_at)';
  const us = layout === 'modern' ? 'toUnixTimestamp64Micro(occurred_at)' : '(toUInt64(occurred_at) * 1000000 + occurred_at_us)';
  const conds = [`${us} >= ${q.from}`, `${us} < ${q.to}`];
  if (!q.scope.all) conds.push(`tenant_id IN (${q.scope.tenants.map((t) => `'${t}'`).join(', ')})`);
  if (q.action !== undefined) conds.push(`action = '${q.action}'`);
  if (q.actor_id !== undefined) conds.push(`actor_id = '${q.actor_id}'`);
  return ch.queryRows(
    `SELECT ${select.replaceAll('SECS', secs)}, uniqExact(event_id) AS n FROM (
  SELECT * FROM \`${database}\`.events ORDER BY tenant_id, event_id, ${order} LIMIT 1 BY tenant_id, event_id)
WHERE ${conds.join(' AND ')} GROUP BY ${groupBy} ORDER BY ${groupBy}`,
  );
}

const scopes: Record<string, TenantScope> = {
  acme: { all: false, tenants: ['acme'] },
  'acme+beta': { all: false, tenants: ['acme', 'beta'] },
  all: { all: true },
};
const filters: Record<string, Partial<EventQuery>> = {
  none: {},
  action: { action: 'auth.login' },
  actor: { actor_id: 'u3' },
  'actor reused later': { actor_id: 'u3-again' },
  'actor reused first': { actor_id: 'u1-first' },
  'action+actor': { action: 'auth.login', actor_id: 'u5' },
};
const hourOf = (us: number) => Math.floor(us / HOUR_US) * HOUR_US;
const ranges: Record<string, [bigint, bigint]> = {
  'whole data, unaligned edges': [FROM, TO],
  'aligned hours': [BigInt(hourOf(BASE_US) + HOUR_US), BigInt(hourOf(BASE_US) + 4 * HOUR_US)],
  'unaligned inside': [BigInt(BASE_US + 37 * 60_000_000 + 123), BigInt(BASE_US + 3 * HOUR_US + 12 * 60_000_000 + 7)],
  'short start edge, end 1 µs before an hour': [BigInt(hourOf(BASE_US) + HOUR_US + 45 * 60_000_000), BigInt(hourOf(BASE_US) + 5 * HOUR_US - 1)],
  'within one hour (events only)': [BigInt(hourOf(BASE_US) + HOUR_US + 60_000_000), BigInt(hourOf(BASE_US) + 2 * HOUR_US - 60_000_000)],
  'from two hours before': [FROM - BigInt(2 * HOUR_US), TO],
};

for (const which of ['checked at insert', 'backfilled by migration 012'] as const) {
  test(`top actors and the hourly series equal distinct shown events (${which})`, async () => {
    const d = which === 'checked at insert' ? db : backfilled;
    let compared = 0;
    for (const [sn, scope] of Object.entries(scopes))
      for (const [fn, f] of Object.entries(filters))
        for (const [rn, [from, to]] of Object.entries(ranges)) {
          const q: EventQuery = { scope, from, to, ...f };
          const label = `${sn} / ${fn} / ${rn}`;
          const want = await reference(d.ch, d.database, q, 'tenant_id, actor_id', 'tenant_id, actor_id');
          const byCount = [...want].sort(
            (a, b) => Number(b.n) - Number(a.n) || String(a.tenant_id).localeCompare(String(b.tenant_id)) || (String(a.actor_id) < String(b.actor_id) ? -1 : 1),
          );
          const got = await top(d.ch, q, { dimension: 'actor', limit: 1000 });
          assert.deepEqual(
            got.map((e) => [e.tenant, e.values.actor_id, e.count]),
            byCount.map((r) => [r.tenant_id, r.actor_id, Number(r.n)]),
            `top actors: ${label}`,
          );
          for (const interval of (fn === 'none' ? ['1h', '6h'] : ['1h']) as IntervalName[]) {
            const s = INTERVALS[interval];
            const series = await reference(d.ch, d.database, q, `intDiv(SECS, ${s}) * ${s} AS bucket`, 'bucket');
            const gotSeries = await timeseries(d.ch, q, { interval, groups: 10 });
            assert.deepEqual(
              gotSeries.map((pt) => [pt.bucket, pt.count]),
              series.map((r) => [Number(r.bucket), Number(r.n)]),
              `series ${interval}: ${label}`,
            );
          }
          const byAction = await reference(d.ch, d.database, q, `intDiv(SECS, 3600) * 3600 AS bucket, action AS g`, 'bucket, g');
          const gotByAction = await timeseries(d.ch, q, { interval: '1h', groupBy: 'action', groups: 10 });
          assert.deepEqual(
            gotByAction.map((pt) => [pt.bucket, pt.group, pt.count]),
            byAction.map((r) => [Number(r.bucket), r.g, Number(r.n)]),
            `series by action: ${label}`,
          );
          compared++;
        }
    assert.equal(compared, Object.keys(scopes).length * Object.keys(filters).length * Object.keys(ranges).length);
  });
}

test('the data has copies to subtract: the rollup alone counts more than there are events, in the groups of the copies', async () => {
  for (const d of [db, backfilled]) {
    const [rollup] = await d.ch.queryRows<{ n: string }>(`SELECT sum(rows) AS n FROM \`${d.database}\`.${ROLLUP.table}`);
    const q: EventQuery = { scope: { all: true }, from: FROM - BigInt(3 * HOUR_US), to: TO + BigInt(3 * HOUR_US) };
    const [events] = await reference(d.ch, d.database, q, '1 AS one', 'one');
    assert.equal(Number(events?.n), N, 'every event once');
    assert.ok(Number(rollup?.n) > N + 100, `the rollup counts the copies (${rollup?.n} rows)`);
    const [dups] = await d.ch.queryRows<{ n: string }>(`SELECT uniqExact(tenant_id, event_id) AS n FROM \`${d.database}\`.${ROW_COUNTS.dups}`);
    // The 40 reused later are among the last 150; before 012 the re-delivered messages were merged away (OPTIMIZE … FINAL).
    const want = d === db ? 150 + 30 + 60 + 30 : 60 + 40 + 30;
    assert.equal(Number(dups?.n), want, 'every id stored twice is recorded');
  }
});
