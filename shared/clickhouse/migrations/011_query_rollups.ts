import type { Migration, MigrationContext } from '../src/migrate.js';
import { BY_ID, ROLLUP } from '../src/schema.js';

const BY_ID_COLUMNS = 'tenant_id, event_id, occurred_at, action, actor_id';

/** SELECT of the rollup's rows from audit.events (the view's query and the backfill's; 012's rebuild too). */
export function rollupSelect({ db }: MigrationContext): string {
  return `SELECT tenant_id, toStartOfHour(occurred_at) AS hour, action, actor_id, count() AS rows
FROM ${db}.events GROUP BY tenant_id, hour, action, actor_id`;
}

/** CREATE TABLE of the rollup under `name` (011's fill and 012's rebuild: one definition). */
export function rollupTableDdl(db: string, name: string): string {
  return `CREATE TABLE ${db}.${name} (
  \`tenant_id\` String,
  \`hour\` DateTime('UTC'),
  \`action\` String,
  \`actor_id\` String,
  \`rows\` UInt64
) ENGINE = SummingMergeTree(rows)
PARTITION BY toYYYYMM(hour)
ORDER BY (tenant_id, hour, action, actor_id)
SETTINGS index_granularity = 1024`;
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
 *
 * events_by_id: (tenant_id, event_id, occurred_at, action, actor_id) of every stored row, sorted by
 * id. A page read asks it which (action, actor_id) key prefixes hold the page's ids and reads only
 * those granules of events, instead of the event_id column of whole days (pageRows in the API).
 * Created view first, then backfilled from events (copies collapse; a set of pairs does not mind
 * them); it must be complete, which a view on every insert and that order guarantee.
 */
export const migration: Migration = {
  id: '011_query_rollups',
  description: 'events_hourly: rows per (tenant, hour, action, actor), a search hint; events_by_id: key prefix per event id, for page reads',
  up(ctx) {
    const { db } = ctx;
    const fill = `${ROLLUP.table}_new011`;
    const absent = { table: ROLLUP.table, exists: false };
    return [
      { sql: `DROP TABLE IF EXISTS ${db}.${fill}`, when: absent },
      {
        sql: rollupTableDdl(db, fill),
        when: absent,
      },
      { sql: `INSERT INTO ${db}.${fill} ${rollupSelect(ctx)}`, when: absent },
      { sql: `RENAME TABLE ${db}.${fill} TO ${db}.${ROLLUP.table}`, when: absent },
      `CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.${ROLLUP.view} TO ${db}.${ROLLUP.table} AS
${rollupSelect(ctx)}`,
      // events_by_id: the view first, then the backfill, so no row is missed (one stored twice collapses on merge,
      // and a set of (action, actor_id) pairs does not mind copies). Read by the API's page reads (pageRows).
      `CREATE TABLE IF NOT EXISTS ${db}.${BY_ID.table} (
  \`tenant_id\` String,
  \`event_id\` UUID,
  \`occurred_at\` ${ctx.layout === 'modern' ? "DateTime64(6, 'UTC')" : "DateTime('UTC')"},
  \`action\` String,
  \`actor_id\` String
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (tenant_id, event_id, occurred_at, action, actor_id)
SETTINGS index_granularity = 8192`,
      `CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.${BY_ID.view} TO ${db}.${BY_ID.table} AS
SELECT ${BY_ID_COLUMNS} FROM ${db}.events`,
      `INSERT INTO ${db}.${BY_ID.table} SELECT ${BY_ID_COLUMNS} FROM ${db}.events`,
    ];
  },
};
