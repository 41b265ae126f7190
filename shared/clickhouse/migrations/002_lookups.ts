import type { Migration, MigrationContext } from '../src/migrate.js';
import { LOOKUPS, type LookupSpec } from '../src/schema.js';

const lookupColumns = (l: LookupSpec) => ['tenant_id', ...l.key, 'occurred_at', 'event_id'];

/** The materialized view feeding one lookup table from events (006 creates them again after its table swap). */
export function lookupView({ db }: MigrationContext, l: LookupSpec): string {
  const cols = lookupColumns(l);
  return `CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.${l.view} TO ${db}.${l.table} AS
SELECT ${cols.join(', ')} FROM ${db}.events WHERE ${l.where}`;
}

/**
 * Servers without skip indexes (18.16): narrow lookup tables, each sorted by what it looks up,
 * fed by a materialized view on every insert into events. A lookup reads event ids from one of
 * them, then the full rows from events (queries.ts). They share events' partition key, so
 * retention drops the same partitions from them. Servers with skip indexes get no statements.
 */
export const migration: Migration = {
  id: '002_lookups',
  description: 'lookup tables by actor, resource and IP fed by materialized views (servers without skip indexes)',
  up(ctx) {
    const { db, caps, layout } = ctx;
    if (caps.skipIndexes) return [];
    const time = layout === 'modern' ? "DateTime64(6, 'UTC')" : "DateTime('UTC')";
    const out: string[] = [];
    for (const l of Object.values(LOOKUPS)) {
      const keyCols = l.key.map((k) => `  \`${k}\` String`).join(',\n');
      const cols = lookupColumns(l);
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
        lookupView(ctx, l),
      );
    }
    return out;
  },
};
