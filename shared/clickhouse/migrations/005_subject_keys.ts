import type { Migration } from '../src/migrate.js';

/**
 * Field encryption and crypto-shredding (docs/field-encryption.md):
 * - subject_keys: one row per data key, wrapped by the master key. Never updated; erasure deletes
 *   a subject's rows (ALTER … DELETE, a mutation) — that deletion is what makes their fields unreadable.
 * - subject_erasures: tombstones. A key created at or before its subject's latest erasure counts as
 *   erased even if a copy survived (a key inserted while the mutation ran); kept forever.
 * - api_key_permissions: extra permissions of API keys (pii: may read decrypted personal data).
 * Times are UInt64 milliseconds, which every version stores (18.16 has no DateTime64); with skip
 * indexes (modern), a bloom filter serves the API's lookups by key id.
 */
export const migration: Migration = {
  id: '005_subject_keys',
  description: 'subject_keys, subject_erasures and api_key_permissions tables',
  up({ db, caps }) {
    const keyIndex = caps.skipIndexes ? ',\n  INDEX idx_key_id key_id TYPE bloom_filter(0.01) GRANULARITY 1' : '';
    return [
      `CREATE TABLE IF NOT EXISTS ${db}.subject_keys (
  \`tenant_id\` String,
  \`subject_id\` String COMMENT 'value of encryption.subject_field (actor id by default)',
  \`key_id\` String COMMENT 'id carried by every ciphertext made with this key',
  \`wrapped_key\` String COMMENT 'the data key wrapped by the master key: <master_key_id>:<base64url>',
  \`master_key_id\` String COMMENT 'master key that wrapped it (rotation: re-wrap rows of old ids)',
  \`created_at_ms\` UInt64,
  \`created_at\` DateTime('UTC')${keyIndex}
) ENGINE = ReplacingMergeTree(created_at_ms)
ORDER BY (tenant_id, subject_id, key_id)`,
      `CREATE TABLE IF NOT EXISTS ${db}.subject_erasures (
  \`tenant_id\` String,
  \`subject_id\` String,
  \`erasure_id\` String,
  \`erased_at_ms\` UInt64 COMMENT 'keys created at or before this are erased',
  \`reason\` String,
  \`key_ids\` Array(String) COMMENT 'keys destroyed by this erasure',
  \`created_at\` DateTime('UTC')
) ENGINE = ReplacingMergeTree(erased_at_ms)
ORDER BY (tenant_id, subject_id, erasure_id)`,
      `CREATE TABLE IF NOT EXISTS ${db}.api_key_permissions (
  \`id\` String COMMENT 'API key id',
  \`permission\` String COMMENT 'pii',
  \`created_at\` DateTime('UTC'),
  \`updated_at\` DateTime('UTC')
) ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (id, permission)`,
    ];
  },
};
