import { ROW_COUNT_COLUMNS, recordAllDuplicatesSql, rowCountsSelect } from '../src/duplicates.js';
import type { Migration } from '../src/migrate.js';
import { ROLLUP, ROW_COUNTS } from '../src/schema.js';
import { rollupSelect, rollupTableDdl } from './011_query_rollups.js';

const KEY_TYPES = `\`tenant_id\` String,
  \`event_id\` UUID,
  \`hour\` DateTime('UTC'),
  \`action\` String,
  \`actor_id\` String,
  \`received_ms\` UInt64,
  \`kafka_topic\` String,
  \`kafka_partition\` UInt32,
  \`kafka_offset\` UInt64,
  \`rows\` UInt64`;

/**
 * Exact counts for top actors and the time series (duplicates.ts): event_id_rows (inserted rows per id
 * and first-received key, fed by a view) and event_id_dups (the rows of the ids stored more than once).
 * Backfill: event_id_rows and a rebuilt events_hourly are filled from the same events and swapped in
 * by one RENAME before the view is created, so both count the rows stored now (merges may have
 * collapsed copies 011's rollup had counted); then the one-off scan records every id stored more than
 * once. Rows inserted while it runs are missed: run it with writers stopped (as `auditstream migrate`
 * before `up`). An interrupted fill starts again from scratch (guarded by event_id_rows' absence).
 * Both share events' partition key (toYYYYMM of the hour), so retention drops them with events'.
 */
export const migration: Migration = {
  id: '012_exact_counts',
  description: 'event_id_rows and event_id_dups: rows per event id and the ids stored twice, for exact counts from events_hourly',
  up(ctx) {
    const { db } = ctx;
    const rowsNew = `${ROW_COUNTS.rows}_new012`;
    const hourlyNew = `${ROLLUP.table}_new012`;
    const hourlyOld = `${ROLLUP.table}_old012`;
    const absent = { table: ROW_COUNTS.rows, exists: false };
    return [
      { sql: `DROP TABLE IF EXISTS ${db}.${rowsNew}`, when: absent },
      { sql: `DROP TABLE IF EXISTS ${db}.${hourlyNew}`, when: absent },
      {
        sql: `CREATE TABLE ${db}.${rowsNew} (
  ${KEY_TYPES.replace('`event_id`', '`id_ms` UInt64,\n  `event_id`')}
) ENGINE = SummingMergeTree(rows)
PARTITION BY toYYYYMM(hour)
ORDER BY (tenant_id, id_ms, event_id, hour, action, actor_id, received_ms, kafka_topic, kafka_partition, kafka_offset)
SETTINGS index_granularity = 8192`,
        when: absent,
      },
      {
        sql: rollupTableDdl(db, hourlyNew),
        when: absent,
      },
      { sql: `INSERT INTO ${db}.${rowsNew} (${ROW_COUNT_COLUMNS}) ${rowCountsSelect(db, ctx.layout)}`, when: absent },
      { sql: `INSERT INTO ${db}.${hourlyNew} ${rollupSelect(ctx)}`, when: absent },
      {
        sql: `RENAME TABLE ${db}.${ROLLUP.table} TO ${db}.${hourlyOld}, ${db}.${hourlyNew} TO ${db}.${ROLLUP.table}, ${db}.${rowsNew} TO ${db}.${ROW_COUNTS.rows}`,
        when: absent,
      },
      `DROP TABLE IF EXISTS ${db}.${hourlyOld}`,
      `CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.${ROW_COUNTS.view} TO ${db}.${ROW_COUNTS.rows} AS
${rowCountsSelect(db, ctx.layout)}`,
      `CREATE TABLE IF NOT EXISTS ${db}.${ROW_COUNTS.dups} (
  ${KEY_TYPES}
) ENGINE = ReplacingMergeTree(rows)
PARTITION BY toYYYYMM(hour)
ORDER BY (tenant_id, hour, event_id, action, actor_id, received_ms, kafka_topic, kafka_partition, kafka_offset)
SETTINGS index_granularity = 1024`,
      recordAllDuplicatesSql(db),
    ];
  },
};
