import assert from 'node:assert/strict';
import { test } from 'node:test';
import { capabilitiesFor } from './capabilities.js';
import { renderMigrations } from './migrate.js';

test('legacy rendering: arrays, DateTime + µs, lookup tables with materialized views, no codecs', () => {
  const ms = renderMigrations('audit_x', capabilitiesFor('18.16.1'));
  assert.deepEqual(
    ms.map((m) => m.id),
    ['001_events', '002_lookups', '003_integrity', '004_operations', '005_subject_keys'],
  );
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
