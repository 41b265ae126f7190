import type { Migration } from '../src/migrate.js';

/**
 * The roots of complete, aligned Merkle subtrees of a partition's tree (docs/integrity.md
 * "Stored subtree roots"): the subtree of 2^level leaves starting at leaf idx × 2^level. Such a
 * root never changes once its leaves exist, so proofs are built from O(log n) of these plus at
 * most a block of leaves instead of reading the whole partition. A cache, not evidence: a wrong
 * root only makes a proof fail against the signed tree head. Written by the proof builder when it
 * first needs them; a repaired root is a newer row: ReplacingMergeTree(written_ms) keeps it, readers take argMax.
 */
export const migration: Migration = {
  id: '013_merkle_subtrees',
  description: 'merkle_subtrees table (stored roots of complete subtrees, for fast proofs)',
  up({ db }) {
    return [
      `CREATE TABLE IF NOT EXISTS ${db}.merkle_subtrees (
  \`topic\` String,
  \`partition\` UInt32,
  \`level\` UInt8 COMMENT 'the subtree holds 2^level leaves',
  \`idx\` UInt64 COMMENT 'its first leaf index is idx * 2^level',
  \`root\` String COMMENT 'MTH of those leaves, 64 lowercase hex',
  \`written_ms\` UInt64 COMMENT 'a rewrite (after a repair) supersedes older rows'
) ENGINE = ReplacingMergeTree(written_ms)
ORDER BY (topic, \`partition\`, \`level\`, idx)`,
    ];
  },
};
