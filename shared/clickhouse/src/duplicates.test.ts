import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MIGRATIONS } from '../migrations/index.js';
import { capabilitiesFor } from './capabilities.js';
import { idMillis, idRanges, recordAllDuplicatesSql } from './duplicates.js';
import { renderMigrations } from './migrate.js';

test('idMillis reads the 48 milliseconds of a UUIDv7; idRanges joins ids less than a minute apart', () => {
  assert.equal(idMillis('01900000-0001-7000-8000-000000000000'), 0x019000000001);
  const at = (ms: number) =>
    `${ms
      .toString(16)
      .padStart(12, '0')
      .replace(/^(.{8})/, '$1-')}-7abc-8000-000000000000`;
  assert.equal(idMillis(at(1_760_000_000_123)), 1_760_000_000_123);
  assert.deepEqual(idRanges([at(1000), at(61_000), at(500), at(200_000), at(1000)]), [
    [500, 61_000],
    [200_000, 200_000],
  ]);
});

test('the one-off scan copies every row of each id with two or more rows, across shards (GLOBAL IN)', () => {
  const s = recordAllDuplicatesSql('`audit`');
  assert.match(
    s,
    /^INSERT INTO `audit`\.event_id_dups \(tenant_id, event_id, hour, action, actor_id, received_ms, kafka_topic, kafka_partition, kafka_offset, rows\)/,
  );
  assert.match(s, /GLOBAL IN \(SELECT tenant_id, event_id FROM `audit`\.event_id_rows WHERE 1 GROUP BY tenant_id, event_id HAVING sum\(rows\) > 1\)/);
});

test('migration 012 renders for one server and for a cluster (replicated tables, a Distributed table each)', () => {
  const one = renderMigrations('audit', capabilitiesFor('18.16.1')).find((m) => m.id === '012_exact_counts');
  assert.ok(one);
  const text = one.statements.join('\n');
  assert.match(
    text,
    /RENAME TABLE `audit`\.events_hourly TO `audit`\.events_hourly_old012, `audit`\.events_hourly_new012 TO `audit`\.events_hourly, `audit`\.event_id_rows_new012 TO `audit`\.event_id_rows/,
  );
  assert.match(text, /ENGINE = ReplacingMergeTree\(rows\)\nPARTITION BY toYYYYMM\(hour\)/);
  const cluster = renderMigrations('audit', capabilitiesFor('18.16.1'), MIGRATIONS, 'c1').find((m) => m.id === '012_exact_counts');
  const ctext = cluster?.statements.join('\n') ?? '';
  assert.match(ctext, /ReplicatedSummingMergeTree\('\/clickhouse\/tables\/\{shard\}\/audit_local\/event_id_rows_new012', '\{replica\}', rows\)/);
  assert.match(ctext, /ReplicatedReplacingMergeTree\('\/clickhouse\/tables\/\{shard\}\/audit_local\/event_id_dups', '\{replica\}', rows\)/);
  assert.match(ctext, /ENGINE = Distributed\(`c1`, `audit_local`, `event_id_dups`/);
  assert.match(ctext, /CREATE MATERIALIZED VIEW IF NOT EXISTS `audit_local`\.`event_id_rows_mv` ON CLUSTER `c1` TO `audit_local`\.event_id_rows/);
});
