import type { Migration } from '../src/migrate.js';

/** The checkpoints table (007 swaps it for one whose key keeps forked checkpoints). */
export const CHECKPOINTS_DDL = (db: string, name: string, orderBy: string, extraColumns = '') => `CREATE TABLE IF NOT EXISTS ${db}.${name} (
  \`topic\` String COMMENT 'events topic the chain belongs to',
  \`partition\` UInt32 COMMENT 'Kafka partition of the chain',
  \`last_offset\` UInt64 COMMENT 'last offset covered by this checkpoint',
  \`chain_seq\` UInt64 COMMENT 'chain_seq of the last covered event',
  \`chain_head\` String COMMENT 'hex hash of the last covered chain entry',
  \`created_at\` DateTime('UTC'),
  \`prev_checkpoint_hash\` String COMMENT 'hex hash of the previous checkpoint of this partition',
  \`key_id\` String COMMENT 'id of the signing key',
  \`signature\` String COMMENT 'base64 signature over the checkpoint'${extraColumns}
) ENGINE = ReplacingMergeTree(created_at)
ORDER BY ${orderBy}`;

/**
 * Tamper evidence: signed checkpoints of each partition's hash chain (kept forever), and the
 * decisions taken on dead-lettered messages (what was dropped, why, and a hash of the raw bytes).
 */
export const migration: Migration = {
  id: '003_integrity',
  description: 'checkpoints and dlq_decisions tables',
  up({ db }) {
    return [
      CHECKPOINTS_DDL(db, 'checkpoints', '(topic, partition, last_offset)'),
      `CREATE TABLE IF NOT EXISTS ${db}.dlq_decisions (
  \`topic\` String,
  \`partition\` UInt32,
  \`offset\` UInt64,
  \`reason\` String COMMENT 'machine-friendly reason code',
  \`raw_sha256\` String COMMENT 'hex SHA-256 of the raw message bytes',
  \`decided_at\` DateTime('UTC')
) ENGINE = ReplacingMergeTree(decided_at)
PARTITION BY toYYYYMM(decided_at)
ORDER BY (topic, partition, offset)`,
    ];
  },
};
