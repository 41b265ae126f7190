import assert from 'node:assert/strict';
import { test } from 'node:test';
import { capabilitiesFor } from './capabilities.js';
import { clusterMaintenanceStatement, createClusterRewriter, shardingKey } from './cluster.js';
import { renderMigrations } from './migrate.js';

for (const version of ['18.16.1', '24.8.1']) {
  test(`cluster mode rewrites every migration (ClickHouse ${version}): Replicated local tables, Distributed access, all DDL ON CLUSTER`, () => {
    const single = renderMigrations('audit', capabilitiesFor(version));
    const cluster = renderMigrations('audit', capabilitiesFor(version), undefined, 'auditstream');
    assert.deepEqual(
      cluster.map((m) => m.id),
      single.map((m) => m.id),
    );
    for (const m of cluster) {
      assert.equal(m.sqls.length, m.origins.length);
      for (const sql of m.sqls) {
        if (sql.startsWith('INSERT')) continue;
        assert.match(sql, /ON CLUSTER `auditstream`/, `${m.id}: ${sql.split('\n')[0]}`);
        if (/ENGINE = \w*MergeTree/.test(sql)) {
          assert.match(sql, /^CREATE TABLE (IF NOT EXISTS )?`audit_local`\./, `${m.id}: data tables live in the local database`);
          assert.match(sql, /ENGINE = Replicated\w*MergeTree\('\/clickhouse\/tables\/\{shard\}\/audit_local\/\w+', '\{replica\}'/);
        }
        if (sql.startsWith('CREATE MATERIALIZED VIEW')) assert.doesNotMatch(sql, /`audit`\./, `${m.id}: a view reads and writes its shard's local tables`);
      }
    }
    // Every table the single-server schema creates has a Distributed table of the same name.
    const created = single.flatMap((m) => m.sqls).flatMap((s) => /^CREATE TABLE (?:IF NOT EXISTS )?`audit`\.(\w+)/.exec(s)?.[1] ?? []);
    const distributed = cluster.flatMap((m) => m.sqls).flatMap((s) => /^CREATE TABLE IF NOT EXISTS `audit`\.`(\w+)` .*ENGINE = Distributed/.exec(s)?.[1] ?? []);
    for (const t of created) assert.ok(distributed.includes(t), `${t} has a Distributed table`);
    // The single-server rendering is untouched by the cluster code.
    assert.ok(single.every((m) => m.sqls.every((s) => !s.includes('ON CLUSTER') && !s.includes('Replicated'))));
  });
}

test('a Distributed table is sharded by a hash of its sorting key, so a re-sent row meets its first copy', () => {
  const rw = createClusterRewriter({ cluster: 'c', database: 'db' });
  const out = rw(
    'CREATE TABLE IF NOT EXISTS `db`.t (\n  `a` String,\n  `b` UInt8\n) ENGINE = ReplacingMergeTree(b)\nORDER BY (a, b)\nSETTINGS index_granularity = 8192',
  );
  assert.equal(out.length, 2);
  assert.match(out[0] as string, /ReplicatedReplacingMergeTree\('\/clickhouse\/tables\/\{shard\}\/db_local\/t', '\{replica\}', b\)\nORDER BY \(a, b\)/);
  assert.equal(
    out[1],
    'CREATE TABLE IF NOT EXISTS `db`.`t` ON CLUSTER `c` AS `db_local`.`t` ENGINE = Distributed(`c`, `db_local`, `t`, cityHash64(toString(a), toString(b)))',
  );
});

test('the sharding key hashes every part of the sorting key as text (18.16 hashes no UUID), functions kept whole', () => {
  assert.equal(
    shardingKey('(tenant_id, toStartOfHour(occurred_at), event_id)'),
    'cityHash64(toString(tenant_id), toString(toStartOfHour(occurred_at)), toString(event_id))',
  );
  assert.equal(shardingKey('id'), 'cityHash64(toString(id))');
});

test('a rename moves the data and re-points each name at the table it now holds, with that table sharding key', () => {
  const rw = createClusterRewriter({ cluster: 'c', database: 'db' });
  rw('CREATE TABLE `db`.t (x String) ENGINE = MergeTree ORDER BY x');
  rw('CREATE TABLE `db`.t_new (x String, y String) ENGINE = MergeTree ORDER BY (y, x)');
  const out = rw('RENAME TABLE `db`.t TO `db`.t_pre, `db`.t_new TO `db`.t');
  assert.equal(out[0], 'RENAME TABLE `db_local`.`t` TO `db_local`.`t_pre`, `db_local`.`t_new` TO `db_local`.`t` ON CLUSTER `c`');
  assert.ok(
    out.includes(
      'CREATE TABLE IF NOT EXISTS `db`.`t` ON CLUSTER `c` AS `db_local`.`t` ENGINE = Distributed(`c`, `db_local`, `t`, cityHash64(toString(y), toString(x)))',
    ),
  );
  assert.ok(
    out.includes(
      'CREATE TABLE IF NOT EXISTS `db`.`t_pre` ON CLUSTER `c` AS `db_local`.`t_pre` ENGINE = Distributed(`c`, `db_local`, `t_pre`, cityHash64(toString(x)))',
    ),
  );
  assert.ok(out.includes('DROP TABLE IF EXISTS `db`.`t_new` ON CLUSTER `c`'));
});

test('a statement the rewriter does not know is refused by name, never sent as is', () => {
  const rw = createClusterRewriter({ cluster: 'c', database: 'db' });
  assert.throws(() => rw('OPTIMIZE TABLE `db`.t FINAL'), { code: 'CLICKHOUSE_CLUSTER_DDL' });
});

test('maintenance statements go to the local replicated table ON CLUSTER, values untouched; anything else is refused by name', () => {
  const t = { cluster: 'c', database: 'db' };
  assert.equal(
    clusterMaintenanceStatement(t, "ALTER TABLE `db`.`subject_keys` DELETE WHERE subject_id = 'a COMMENT ' AND has(['x'], tenant_id)"),
    "ALTER TABLE `db_local`.`subject_keys` ON CLUSTER `c` DELETE WHERE subject_id = 'a COMMENT ' AND has(['x'], tenant_id)",
  );
  assert.equal(
    clusterMaintenanceStatement(t, 'ALTER TABLE `db`.`events` DROP PARTITION 202401'),
    'ALTER TABLE `db_local`.`events` ON CLUSTER `c` DROP PARTITION 202401',
  );
  assert.equal(
    clusterMaintenanceStatement(t, 'ALTER TABLE db.alerts MODIFY TTL created_at + toIntervalDay(30)'),
    'ALTER TABLE `db_local`.`alerts` ON CLUSTER `c` MODIFY TTL created_at + toIntervalDay(30)',
  );
  for (const bad of ['ALTER TABLE `db`.`events` ADD COLUMN x UInt8', 'ALTER TABLE `other`.`events` DROP PARTITION 202401', 'OPTIMIZE TABLE `db`.`events`'])
    assert.throws(
      () => clusterMaintenanceStatement(t, bad),
      (err: Error & { code?: string; field?: string }) => err.code === 'CLICKHOUSE_CLUSTER_DDL' && err.field === 'clickhouse.cluster',
    );
});
