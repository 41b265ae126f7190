import assert from 'node:assert/strict';
import { uuidv7 } from '@auditstream/core';
import { MIGRATIONS } from '../migrations/index.js';
import { layoutFor } from './capabilities.js';
import type { ClickHouse } from './client.js';
import { migrate, migrationStatus, renderMigrations } from './migrate.js';
import { countEvents, getEvent, rawEventRowCount } from './queries.js';
import { type AuditEventInput, insertRows, toRow } from './rows.js';
import { EVENT_COLUMNS, eventColumnNames } from './schema.js';

/**
 * Migrations 006 (events keyed by source) and 007 (checkpoints keyed by signature) on a database
 * made by 001–005 holding rows, run the way a crash leaves them (interrupted right after the
 * RENAME), then completed by `migrate`: every row is copied, the new keys hold after a forced
 * merge, the lookup views feed from the new table, and a second run is a no-op. Used by the
 * legacy (18.16) and modern (chDB) tests.
 */
export async function checkSwapMigrations(ch: ClickHouse, db: string): Promise<void> {
  const caps = await ch.capabilities();
  const layout = layoutFor(caps);
  const old = MIGRATIONS.filter((m) => m.id < '006');
  await migrate(ch, { migrations: old });

  const tenant = 'swap-t';
  const id = uuidv7();
  const ev = (over: Partial<AuditEventInput> = {}): AuditEventInput => ({
    event_id: id,
    tenant_id: tenant,
    occurred_at: 1_760_000_000_000_123,
    actor: { id: 'alice', type: 'user' },
    action: 'auth.login',
    category: 'authentication',
    outcome: 'failure',
    service: 'swap',
    ...over,
  });
  const meta = (offset: number, receivedAt = 1_760_000_001_250) => ({
    received_at: receivedAt,
    kafka_topic: 'audit.events',
    kafka_partition: 4,
    kafka_offset: offset,
  });
  // The columns 001 created (later migrations added the others).
  const later = new Set(EVENT_COLUMNS.filter((c) => c.since !== undefined).map((c) => c.name));
  const oldColumns = eventColumnNames(layout).filter((c) => !later.has(c));
  const oldRow = (e: AuditEventInput, m: ReturnType<typeof meta>) => {
    const r = toRow(e, m, layout) as unknown as Record<string, unknown>;
    return Object.fromEntries(oldColumns.map((c) => [c, r[c]]));
  };
  // Three messages sharing an event_id (one INSERT each: not merged yet in the old table, which
  // modern servers would do within one INSERT block), and one other event.
  for (const row of [
    oldRow(ev(), meta(5762)),
    oldRow(ev({ outcome: 'success' }), meta(5763)),
    oldRow(ev({ reason: 'again' }), meta(5764)),
    oldRow(ev({ event_id: uuidv7(), actor: { id: 'bob', type: 'user' } }), meta(5765)),
  ])
    await ch.insertJson('events', [row], { columns: oldColumns });
  assert.equal(await rawEventRowCount(ch, tenant), 4);
  // Two checkpoints of one offset (a forked chain): the old key kept one of them on merge.
  const cp = (signature: string) => ({
    topic: 'audit.events',
    partition: 4,
    last_offset: '5765',
    chain_seq: '4',
    chain_head: 'a'.repeat(64),
    created_at: 1_760_000_100,
    prev_checkpoint_hash: '0'.repeat(64),
    key_id: 'k1',
    signature,
  });
  await ch.insertJson('checkpoints', [cp('sig-A')]);
  await ch.insertJson('checkpoints', [cp('sig-B')]);

  // A run of 006 interrupted right after its RENAME: the new table is in place, empty.
  const m006 = renderMigrations(db, caps).find((m) => m.id === '006_events_source_key');
  assert.ok(m006);
  for (const s of m006.sqls.slice(0, 2)) await ch.command(s);
  assert.equal(await rawEventRowCount(ch, tenant), 0, 'interrupted after the swap, before the copy');

  // And a 009 that added its first column before it was interrupted: the re-run skips that column.
  const m009 = renderMigrations(db, caps).find((m) => m.id === '009_events_producer');
  assert.ok(m009);
  await ch.command(m009.sqls[0] as string);

  const res = await migrate(ch);
  assert.deepEqual(
    res.applied,
    MIGRATIONS.map((m) => m.id).filter((id) => id >= '006'),
  );
  assert.deepEqual(
    res.statements.filter((s) => s.migration === '009_events_producer').map((s) => /ADD COLUMN `(\w+)`/.exec(s.sql)?.[1]),
    ['producer_seq'],
    'the column already added is skipped',
  );
  assert.equal((await migrate(ch)).noop, true, 'a second run is a no-op');
  assert.ok((await migrationStatus(ch)).entries.every((e) => e.applied && !e.drift));

  await ch.command(`OPTIMIZE TABLE ${db}.events FINAL`);
  await ch.command(`OPTIMIZE TABLE ${db}.checkpoints FINAL`);
  assert.equal(await rawEventRowCount(ch, tenant), 4, 'every row copied; none merged away under the new key');
  const all = { tenant_id: tenant, from: 0, to: 4_000_000_000_000_000 };
  assert.equal(await countEvents(ch, all), 2);
  assert.equal((await getEvent(ch, tenant, id))?.event.outcome, 'failure', 'the first received is shown');
  const [cps] = await ch.queryRows<{ n: string }>(`SELECT count() AS n FROM ${db}.checkpoints`);
  assert.equal(Number(cps?.n), 2, 'both forked checkpoints kept');
  const [tree] = await ch.queryRows<{ n: string }>(`SELECT count() AS n FROM ${db}.checkpoints WHERE tree_size = 0 AND tree_root = ''`);
  assert.equal(Number(tree?.n), 2, '008: copied checkpoints have no tree head (version 1)');
  const [pre] = await ch.queryRows<{ n: string }>(`SELECT count() AS n FROM ${db}.events_pre006`);
  assert.equal(Number(pre?.n), 4, 'the old table is kept until an operator drops it');

  // New rows keep their milliseconds, and (18.16) the lookup views feed from the new table.
  await insertRows(ch, [toRow(ev({ event_id: uuidv7(), actor: { id: 'carol', type: 'user' } }), meta(5766, 1_760_000_002_345), layout)]);
  const carol = await ch.queryRows<{ id: string }>(`SELECT toString(event_id) AS id FROM ${db}.events WHERE actor_id = 'carol'`);
  const stored = await getEvent(ch, tenant, carol[0]?.id as string);
  assert.equal(stored?.meta.received_at.toISOString(), '2025-10-09T08:53:22.345Z', 'received_at to the millisecond');
  if (!caps.skipIndexes) {
    const [lk] = await ch.queryRows<{ n: string }>(`SELECT count() AS n FROM ${db}.events_by_actor WHERE actor_id = 'carol'`);
    assert.equal(Number(lk?.n), 1, 'the lookup view reads the new events table');
  }
}
