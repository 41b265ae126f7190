import type { Migration } from '../src/migrate.js';
import { EVENTS_ORDER_BY_001 } from '../src/schema.js';
import { eventColumnsAt, eventsTableDdl } from './events-ddl.js';

/**
 * audit.events: one typed column per contract field, plus ingest, enrichment and integrity columns.
 * ReplacingMergeTree(ingested_at); queries dedup because merges are eventual (queries.ts).
 * Rendered as first applied (columns added later and the sorting key of 006 excluded), so its
 * checksum never changes; 006_events_source_key swaps the table for the current layout.
 */
export const migration: Migration = {
  id: '001_events',
  description: 'events table (ReplacingMergeTree, monthly partitions, tenant/day/action/actor/event_id key)',
  up(ctx) {
    return [eventsTableDdl(ctx, 'events', eventColumnsAt(ctx), EVENTS_ORDER_BY_001)];
  },
};
