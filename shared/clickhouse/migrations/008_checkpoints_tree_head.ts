import type { Migration } from '../src/migrate.js';
import { CHECKPOINTS_DDL } from './003_integrity.js';
import { swapTable } from './swap.js';

/** The checkpoints table's columns since 008: the signed tree head and the unsigned frontier ingest resumes from. */
export const CHECKPOINT_TREE_COLUMNS = `,
  \`tree_size\` UInt64 DEFAULT 0 COMMENT 'leaves of the signed Merkle tree head (= chain_seq); 0: a version 1 checkpoint without one',
  \`tree_root\` String DEFAULT '' COMMENT 'hex RFC 9162 root over the chain entries 1..tree_size (signed)',
  \`tree_frontier\` String DEFAULT '' COMMENT 'hex roots of the perfect subtrees at tree_size, largest first (not signed: where ingest resumes)'`;

/**
 * Signed tree heads in the checkpoints (docs/integrity.md "Merkle tree"). 18.16 has no
 * `ADD COLUMN IF NOT EXISTS`, so an interrupted ALTER could not simply run again: the table is
 * swapped instead (swap.ts; it is small, one row per checkpoint). Copied checkpoints get
 * tree_size 0: they were signed without a tree head and verify as before.
 */
export const migration: Migration = {
  id: '008_checkpoints_tree_head',
  description: 'checkpoints gain tree_size, tree_root (signed Merkle tree head) and tree_frontier',
  up(ctx) {
    return swapTable(ctx, {
      table: 'checkpoints',
      n: '008',
      create: (name) => CHECKPOINTS_DDL(ctx.db, name, '(topic, partition, last_offset, signature)', CHECKPOINT_TREE_COLUMNS),
      columns: ['topic', 'partition', 'last_offset', 'chain_seq', 'chain_head', 'created_at', 'prev_checkpoint_hash', 'key_id', 'signature'],
    });
  },
};
