import type { Migration, MigrationContext } from '../src/migrate.js';
import { ROLLUP } from '../src/schema.js';

/** SELECT of the rollup's rows from audit.events (the view's query and the backfill's). */
function rollupSelect({ db }: MigrationContext): string {
  return `SELECT tenant_id, toStartOfHour(occurred_at) AS hour, action, actor_id, count() AS rows
FROM ${db}.events GROUP BY tenant_id, hour, action, actor_id`;
}

/**
 * Rows stored per (tenant, hour, action, actor): a SummingMergeTree fed by a materialized view on
 * every insert into events, a few thousand rows per tenant-day instead of millions. It counts
 * ROWS, re-delivered copies included, so it is never an answer: the API reads it only to choose
 * where to look first (the newest hours that hold a page's worth of rows, queries-window.ts in
 * the API) and then runs the exact query there, continuing over the rest of the range when the
 * window held too few events. A wrong count costs a second query, never a wrong result.
 * Backfill: the existing events are summed into a fresh table, which is renamed into place
 * before the view is created; rows inserted during the migration are missed (a hint is allowed
 * to be short), and a run interrupted before the rename starts the fill again from scratch.
 * It shares events' partition key, so retention drops its partitions with events'.
 */
export const migration: Migration = {
  id: '011_query_rollups',
  description: 'events_hourly: rows per (tenant, hour, action, actor) fed by a materialized view; a search hint',
  up(ctx) {
    const { db } = ctx;
    const fill = `${ROLLUP.table}_new011`;
    const absent = { table: ROLLUP.table, exists: false };
    return [
      { sql: `DROP TABLE IF EXISTS ${db}.${fill}`, when: absent },
      {
        sql: `CREATE TABLE ${db}.${fill} (
  \`tenant_id\` String,
  \`hour\` DateTime('UTC'),
  \`action\` String,
  \`actor_id\` String,
  \`rows\` UInt64
) ENGINE = SummingMergeTree(rows)
PARTITION BY toYYYYMM(hour)
ORDER BY (tenant_id, hour, action, actor_id)
SETTINGS index_granularity = 1024`,
        when: absent,
      },
      { sql: `INSERT INTO ${db}.${fill} ${rollupSelect(ctx)}`, when: absent },
      { sql: `RENAME TABLE ${db}.${fill} TO ${db}.${ROLLUP.table}`, when: absent },
      `CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.${ROLLUP.view} TO ${db}.${ROLLUP.table} AS
${rollupSelect(ctx)}`,
    ];
  },
};
