import type { Migration } from '../src/migrate.js';

/**
 * The console's saved searches (GET/POST/DELETE /v1/saved-searches), one set per credential and
 * tenant. 18.16 has neither lightweight DELETE nor UPDATE, and a mutation per click would rewrite
 * parts: every change is a new row of the search with a higher version_ms, a delete a tombstone
 * (deleted = 1), and ReplacingMergeTree(version_ms) keeps the latest; readers use FINAL (the
 * table is small) and skip tombstones. Same DDL on both layouts (plain String and UInt types).
 */
export const migration: Migration = {
  id: '010_saved_searches',
  description: 'saved_searches table (the console, per credential and tenant)',
  up({ db }) {
    return [
      `CREATE TABLE IF NOT EXISTS ${db}.saved_searches (
  \`principal\` String COMMENT 'owning credential: api_key:<key id> or jwt:<subject>',
  \`tenant_id\` String COMMENT 'the tenant the search reads; empty = every tenant of the credential',
  \`search_id\` String COMMENT 'UUIDv7',
  \`name\` String,
  \`query\` String COMMENT 'the filter object, JSON (validated by the API)',
  \`created_at_ms\` UInt64,
  \`version_ms\` UInt64 COMMENT 'the highest row of a search is its state',
  \`deleted\` UInt8 COMMENT '1 = a tombstone'
) ENGINE = ReplacingMergeTree(version_ms)
ORDER BY (principal, tenant_id, search_id)`,
    ];
  },
};
