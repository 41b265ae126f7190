import type { Migration } from '../src/migrate.js';
import { columnsFor, EVENTS_ORDER_BY, EVENTS_PARTITION_BY } from '../src/schema.js';

/**
 * audit.events: one typed column per contract field, plus ingest, enrichment and integrity columns.
 * ReplacingMergeTree(ingested_at) collapses re-delivered copies (same sorting key, see schema.ts);
 * queries still dedup because merges are eventual (queries.ts).
 * With skip indexes (modern), bloom filters serve lookups by actor, resource and IP; without them
 * (18.16), migration 002 adds lookup tables fed by materialized views.
 */
export const migration: Migration = {
  id: '001_events',
  description: 'events table (ReplacingMergeTree, monthly partitions, tenant/day/action/actor/event_id key)',
  up({ db, caps, layout }) {
    const cols = columnsFor(layout).map((c) => {
      const type = layout === 'modern' ? c.modern : c.legacy;
      const codec = caps.codecs && c.codec ? ` ${c.codec}` : '';
      // COMMENT before CODEC: the order every version with codecs parses.
      return `  \`${c.name}\` ${type} COMMENT '${c.comment.replace(/'/g, "\\'")}'${codec}`;
    });
    const indexes = caps.skipIndexes
      ? [
          '  INDEX idx_actor_id actor_id TYPE bloom_filter(0.01) GRANULARITY 4',
          '  INDEX idx_resource_id resource_id TYPE bloom_filter(0.01) GRANULARITY 4',
          '  INDEX idx_actor_ip actor_ip TYPE bloom_filter(0.01) GRANULARITY 4',
        ]
      : [];
    return [
      `CREATE TABLE IF NOT EXISTS ${db}.events (
${[...cols, ...indexes].join(',\n')}
) ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY ${EVENTS_PARTITION_BY}
ORDER BY ${EVENTS_ORDER_BY}
SETTINGS index_granularity = 8192`,
    ];
  },
};
