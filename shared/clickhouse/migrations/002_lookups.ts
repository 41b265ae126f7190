import type { Migration } from '../src/migrate.js';
import { LOOKUPS } from '../src/schema.js';

/**
 * Servers without skip indexes (18.16): narrow lookup tables, each sorted by what it looks up,
 * fed by a materialized view on every insert into events. A lookup reads event ids from one of
 * them, then the full rows from events (queries.ts). They share events' partition key, so
 * retention drops the same partitions from them. Servers with skip indexes get no statements.
 */
export const migration: Migration = {
  id: '002_lookups',
  description: 'lookup tables by actor, resource and IP fed by materialized views (servers without skip indexes)',
  up({ db, caps, layout }) {
    if (caps.skipIndexes) return [];
    const time = layout === 'modern' ? "DateTime64(6, 'UTC')" : "DateTime('UTC')";
    const out: string[] = [];
    for (const l of Object.values(LOOKUPS)) {
      const keyCols = l.key.map((k) => `  \`${k}\` String`).join(',\n');
      const cols = ['tenant_id', ...l.key, 'occurred_at', 'event_id'];
      out.push(
        `CREATE TABLE IF NOT EXISTS ${db}.${l.table} (
  \`tenant_id\` String,
${keyCols},
  \`occurred_at\` ${time},
  \`event_id\` UUID
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (${cols.join(', ')})
SETTINGS index_granularity = 8192`,
        `CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.${l.view} TO ${db}.${l.table} AS
SELECT ${cols.join(', ')} FROM ${db}.events WHERE ${l.where}`,
      );
    }
    return out;
  },
};
