import type { Migration } from '../src/migrate.js';
import { EVENTS_ORDER_BY, LOOKUPS } from '../src/schema.js';
import { lookupView } from './002_lookups.js';
import { eventColumnsAt, eventsTableDdl } from './events-ddl.js';
import { swapTable } from './swap.js';

/**
 * audit.events keyed by where a row came from (schema.ts EVENTS_ORDER_BY): before this, two
 * messages reusing an event_id (same tenant, day, action and actor) were merged into one and the
 * chain lost entries. Also adds received_at_ms and ingested_at_ms on the legacy layout
 * (DateTime has whole seconds; Kafka timestamps have milliseconds). Copied rows get 0 ms: the
 * milliseconds were never stored. A table swap (swap.ts): 18.16 cannot change a sorting key.
 * On servers without skip indexes the lookup views are re-created on the new table (a view reads
 * from the table it was created on; recreating it leaves no doubt which one that is).
 */
export const migration: Migration = {
  id: '006_events_source_key',
  description: 'events keyed by (…, event_id, kafka_topic, kafka_partition, kafka_offset); legacy received_at_ms/ingested_at_ms',
  up(ctx) {
    const views = ctx.caps.skipIndexes ? [] : Object.values(LOOKUPS);
    return swapTable(ctx, {
      table: 'events',
      n: '006',
      create: (name) => eventsTableDdl(ctx, name, eventColumnsAt(ctx, '006_events_source_key'), EVENTS_ORDER_BY),
      columns: eventColumnsAt(ctx).map((c) => c.name),
      afterSwap: [...views.map((l) => `DROP TABLE IF EXISTS ${ctx.db}.${l.view}`), ...views.map((l) => lookupView(ctx, l))],
    });
  },
};
