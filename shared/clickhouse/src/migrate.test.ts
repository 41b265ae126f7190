import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MIGRATIONS } from '../migrations/index.js';
import { capabilitiesFor } from './capabilities.js';
import { renderMigrations } from './migrate.js';

test('legacy rendering: arrays, DateTime + µs, lookup tables with materialized views, no codecs', () => {
  const ms = renderMigrations('audit_x', capabilitiesFor('18.16.1'));
  const ids = ms.map((m) => m.id);
  assert.deepEqual(
    ids,
    MIGRATIONS.map((m) => m.id),
    'every migration renders, in list order',
  );
  assert.deepEqual(ids, [...ids].sort(), 'ids sort in apply order');
  // Strictly increasing three-digit numbers. Not gap-free: numbers are handed out to branches in parallel, so one
  // branch's 013 can land before another's 012 (the runner applies by id order, and records each id it applied).
  const numbers = ids.map((id) => Number(/^(\d{3})_/.exec(id)?.[1] ?? Number.NaN));
  assert.ok(
    numbers.every((n, i) => Number.isInteger(n) && n >= 1 && (i === 0 ? n === 1 : n > (numbers[i - 1] as number))),
    'ids are numbered 001, then strictly increasing',
  );
  const tree = ms[7]?.statements.join('\n') ?? '';
  assert.match(tree, /`tree_size` UInt64 DEFAULT 0/);
  assert.match(tree, /`tree_root` String DEFAULT ''/);
  assert.match(tree, /RENAME TABLE `audit_x`\.checkpoints TO `audit_x`\.checkpoints_pre008, `audit_x`\.checkpoints_new008 TO `audit_x`\.checkpoints/);
  const events = ms[0]?.statements.join('\n') ?? '';
  assert.match(events, /CREATE TABLE IF NOT EXISTS `audit_x`\.events/);
  assert.match(events, /`occurred_at` DateTime\('UTC'\)/);
  assert.match(events, /`occurred_at_us` UInt32/);
  assert.match(events, /`attr_keys` Array\(String\)/);
  assert.match(
    events,
    /ENGINE = ReplacingMergeTree\(ingested_at\)\nPARTITION BY toYYYYMM\(occurred_at\)\nORDER BY \(tenant_id, toDate\(occurred_at\), action, actor_id, event_id\)/,
  );
  assert.doesNotMatch(events, /CODEC|LowCardinality|INDEX|Map\(/);
  const lookups = ms[1]?.statements ?? [];
  assert.equal(lookups.length, 6);
  assert.match(lookups[1] ?? '', /CREATE MATERIALIZED VIEW IF NOT EXISTS `audit_x`\.events_by_actor_mv TO `audit_x`\.events_by_actor/);
  const swap = ms[5]?.statements.join('\n') ?? '';
  assert.match(swap, /`received_at_ms` UInt16/);
  assert.match(swap, /ORDER BY \(tenant_id, toDate\(occurred_at\), action, actor_id, event_id, kafka_topic, kafka_partition, kafka_offset\)/);
  assert.match(swap, /RENAME TABLE `audit_x`\.events TO `audit_x`\.events_pre006, `audit_x`\.events_new006 TO `audit_x`\.events/);
  assert.match(swap, /CREATE MATERIALIZED VIEW IF NOT EXISTS `audit_x`\.events_by_ip_mv/, 'lookup views re-created on the new table');
  assert.doesNotMatch(events, /received_at_ms/, '001 renders as first applied');
  const rollup = ms[10]?.statements.join('\n') ?? '';
  assert.match(rollup, /ENGINE = SummingMergeTree\(rows\)\nPARTITION BY toYYYYMM\(hour\)\nORDER BY \(tenant_id, hour, action, actor_id\)/);
  assert.match(rollup, /INSERT INTO `audit_x`\.events_hourly_new011 SELECT .*\sFROM `audit_x`\.events GROUP BY/s, 'backfill before the rename');
  assert.match(rollup, /RENAME TABLE `audit_x`\.events_hourly_new011 TO `audit_x`\.events_hourly/);
  assert.match(rollup, /CREATE MATERIALIZED VIEW IF NOT EXISTS `audit_x`\.events_hourly_mv TO `audit_x`\.events_hourly/);
  const keys = ms[4]?.statements.join('\n') ?? '';
  assert.match(keys, /CREATE TABLE IF NOT EXISTS `audit_x`\.subject_keys/);
  assert.match(keys, /CREATE TABLE IF NOT EXISTS `audit_x`\.subject_erasures/);
  assert.doesNotMatch(keys, /INDEX|DateTime64/);
});

test('modern rendering: Map, DateTime64, codecs, bloom filter indexes instead of lookup tables', () => {
  const ms = renderMigrations('audit', capabilitiesFor('26.7.2.1'));
  const events = ms[0]?.statements.join('\n') ?? '';
  assert.match(events, /`occurred_at` DateTime64\(6, 'UTC'\)/);
  assert.match(ms[4]?.statements[0] ?? '', /INDEX idx_key_id key_id TYPE bloom_filter/);
  assert.match(events, /`attributes` Map\(String, String\) COMMENT '[^']*' CODEC\(ZSTD\(3\)\)/);
  assert.match(events, /INDEX idx_actor_id actor_id TYPE bloom_filter/);
  assert.doesNotMatch(events, /`occurred_at_us`|`attr_keys`/);
  assert.deepEqual(ms[1]?.statements, []);
  assert.notEqual(ms[0]?.checksum, renderMigrations('audit', capabilitiesFor('18.16.1'))[0]?.checksum, 'checksum follows the rendering');
});

test('applied migrations render exactly as before (checksums pinned: a change would report drift on every existing database)', () => {
  const ck = (v: string) => Object.fromEntries(renderMigrations('audit', capabilitiesFor(v)).map((m) => [m.id, m.checksum]));
  const legacy = ck('18.16.1');
  assert.equal(legacy['001_events'], 'd9adfd63a6a63b3fad0a9706a6eebfdb661c12bab888ebbbf9b5c3143ca9965d');
  assert.equal(legacy['002_lookups'], 'cf3d5baa746a9993f18817730dfe46a6658c5299b6fea8fc58d3600a24e1055e');
  assert.equal(legacy['003_integrity'], '419dcf3cee66545bd2e3249a923dda82fd7d1ce446a3c4470b9ba20fef2234b0');
  assert.equal(legacy['004_operations'], 'c5f998fac2b3d10b5e258d2c757916cdb44707e92f66d018d6a2da24bdfe3afa');
  assert.equal(legacy['005_subject_keys'], 'b1a4f220598a40ac88f1720cdabeb4d4cfa0b8a606d07e0cbfadb558a3dd832e');
  assert.equal(legacy['007_checkpoints_fork_key'], '2dc9e15cfb261e987d4e380c04dd197d3afb4e2c41d9f9bd7bd3a5c886761581');
  assert.equal(ck('26.7.2.1')['001_events'], '7423a1da7bbe4f3c22469d146cf7d05f91d9fff27bc60fac00820b1bd2912d40');
});
