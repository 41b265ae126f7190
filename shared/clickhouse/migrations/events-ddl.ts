import type { MigrationContext } from '../src/migrate.js';
import { type ColumnSpec, columnsFor, EVENTS_PARTITION_BY } from '../src/schema.js';

/** The events columns a migration created: those of 001 (no `since`), or those up to and including `upTo`. */
export function eventColumnsAt(ctx: MigrationContext, upTo?: string): ColumnSpec[] {
  return columnsFor(ctx.layout).filter((c) => c.since === undefined || (upTo !== undefined && c.since <= upTo));
}

/**
 * CREATE TABLE for audit.events (or a copy of it under another name) with the given columns and
 * sorting key. With skip indexes (modern), bloom filters serve lookups by actor, resource and IP;
 * without them (18.16), migration 002 adds lookup tables fed by materialized views. A copy sorted by
 * what those indexes look up (014) leaves them out: `{ skipIndexes: false }`.
 */
export function eventsTableDdl(
  ctx: MigrationContext,
  name: string,
  columns: readonly ColumnSpec[],
  orderBy: string,
  o: { skipIndexes?: boolean } = {},
): string {
  const { db, caps, layout } = ctx;
  const cols = columns.map((c) => {
    const type = layout === 'modern' ? c.modern : c.legacy;
    const codec = caps.codecs && c.codec ? ` ${c.codec}` : '';
    // COMMENT before CODEC: the order every version with codecs parses.
    return `  \`${c.name}\` ${type} COMMENT '${c.comment.replace(/'/g, "\\'")}'${codec}`;
  });
  const indexes =
    caps.skipIndexes && o.skipIndexes !== false
      ? [
          '  INDEX idx_actor_id actor_id TYPE bloom_filter(0.01) GRANULARITY 4',
          '  INDEX idx_resource_id resource_id TYPE bloom_filter(0.01) GRANULARITY 4',
          '  INDEX idx_actor_ip actor_ip TYPE bloom_filter(0.01) GRANULARITY 4',
        ]
      : [];
  return `CREATE TABLE IF NOT EXISTS ${db}.${name} (
${[...cols, ...indexes].join(',\n')}
) ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY ${EVENTS_PARTITION_BY}
ORDER BY ${orderBy}
SETTINGS index_granularity = 8192`;
}
