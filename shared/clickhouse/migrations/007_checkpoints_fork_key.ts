import type { Migration } from '../src/migrate.js';
import { CHECKPOINTS_DDL } from './003_integrity.js';
import { swapTable } from './swap.js';

/**
 * checkpoints keyed by (topic, partition, last_offset, signature): before this, two different
 * checkpoints of one offset (a forked chain: two ingest instances on one partition) were merged
 * into one, and only the Kafka topic kept the other. Identical copies (same signature) still
 * collapse. A table swap (swap.ts).
 */
export const migration: Migration = {
  id: '007_checkpoints_fork_key',
  description: 'checkpoints keyed by (topic, partition, last_offset, signature): forked checkpoints both kept',
  up(ctx) {
    return swapTable(ctx, {
      table: 'checkpoints',
      n: '007',
      create: (name) => CHECKPOINTS_DDL(ctx.db, name, '(topic, partition, last_offset, signature)'),
      columns: ['topic', 'partition', 'last_offset', 'chain_seq', 'chain_head', 'created_at', 'prev_checkpoint_hash', 'key_id', 'signature'],
    });
  },
};
