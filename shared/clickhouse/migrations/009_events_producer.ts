import type { Migration } from '../src/migrate.js';
import { EVENT_COLUMNS } from '../src/schema.js';

const ID = '009_events_producer';

/**
 * producer_id and producer_seq (contract v2, loss detection; docs/integrity.md): appended to
 * audit.events on both layouts. ADD COLUMN rewrites nothing: existing rows read the defaults
 * ('' and 0), which is what a row of an event without the fields holds. Not part of any
 * sorting key, so no table swap. 18.16 has no ADD COLUMN IF NOT EXISTS: each statement is
 * guarded by the column's absence (a re-run after an interruption skips the columns added).
 */
export const migration: Migration = {
  id: ID,
  description: 'events: producer_id and producer_seq columns (loss detection)',
  up(ctx) {
    return EVENT_COLUMNS.filter((c) => c.since === ID).map((c) => {
      const type = ctx.layout === 'modern' ? c.modern : c.legacy;
      return {
        sql: `ALTER TABLE ${ctx.db}.events ADD COLUMN \`${c.name}\` ${type} COMMENT '${c.comment.replace(/'/g, "\\'")}'`,
        when: { table: 'events', column: c.name, exists: false },
      };
    });
  },
};
