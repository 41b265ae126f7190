import type { Migration } from '../src/migrate.js';
import { RESOURCE_ROWS, RESOURCE_ROWS_ORDER_BY } from '../src/schema.js';
import { eventColumnsAt, eventsTableDdl } from './events-ddl.js';

const ID = '014_events_by_resource_rows';

/**
 * events_by_resource_rows: every stored row of events with a resource, without the chain columns
 * (chain_seq, prev_hash, hash: most of a full copy's bytes, read only by GET /v1/events/{id} and
 * verify), sorted so one resource's rows are contiguous (RESOURCE_ROWS_ORDER_BY). A page of one
 * resource then reads a few granules instead of 100 scattered granules of every column of events
 * (docs/benchmarks.md). Same engine, partition key and row identity as events: re-delivered copies
 * collapse on merge, retention drops its partitions with events', and the API dedups its rows as it
 * does events' (services/api/src/queries/resource-rows.ts). Field encryption stores the same
 * envelopes here, so erasing a subject's keys makes this copy unreadable too.
 * The view first, then the backfill (as 011 does for events_by_id): no row is missed; a row the view
 * and the backfill both wrote is an identical copy, which merges away and which the reads skip.
 * The columns are those of events at this migration: a later column of events needs its own ALTER
 * here, and the view re-created.
 */
export const migration: Migration = {
  id: ID,
  description: 'events_by_resource_rows: the event rows without chain columns, sorted by resource, for by-resource search pages',
  up(ctx) {
    const { db } = ctx;
    const cols = eventColumnsAt(ctx, ID).filter((c) => !RESOURCE_ROWS.without.includes(c.name as never));
    const list = cols.map((c) => `\`${c.name}\``).join(', ');
    const select = `SELECT ${list} FROM ${db}.events WHERE resource_id != ''`;
    return [
      eventsTableDdl(ctx, RESOURCE_ROWS.table, cols, RESOURCE_ROWS_ORDER_BY, { skipIndexes: false }),
      `CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.${RESOURCE_ROWS.view} TO ${db}.${RESOURCE_ROWS.table} AS\n${select}`,
      `INSERT INTO ${db}.${RESOURCE_ROWS.table} (${list}) ${select}`,
    ];
  },
};
