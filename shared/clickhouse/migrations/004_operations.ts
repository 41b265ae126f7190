import type { Migration } from '../src/migrate.js';
import { ALERT_STATUSES, enum8, SEVERITIES } from '../src/schema.js';

/**
 * Alert history, hashed API keys and legal holds. Rows are never updated in place: a change
 * (alert resolved, key revoked, hold released) is a new row with a later updated_at, and
 * ReplacingMergeTree(updated_at) keeps the latest; readers use FINAL (these tables are small).
 */
export const migration: Migration = {
  id: '004_operations',
  description: 'alerts, api_keys and legal_holds tables',
  up({ db }) {
    return [
      `CREATE TABLE IF NOT EXISTS ${db}.alerts (
  \`alert_id\` String,
  \`tenant_id\` String,
  \`rule_id\` String,
  \`severity\` ${enum8(SEVERITIES)},
  \`status\` ${enum8(ALERT_STATUSES)},
  \`title\` String,
  \`details\` String COMMENT 'JSON object, no event payloads',
  \`event_ids\` Array(String) COMMENT 'events that triggered the alert',
  \`fired_at\` DateTime('UTC'),
  \`updated_at\` DateTime('UTC')
) ENGINE = ReplacingMergeTree(updated_at)
PARTITION BY toYYYYMM(fired_at)
ORDER BY (tenant_id, toDate(fired_at), rule_id, alert_id)`,
      `CREATE TABLE IF NOT EXISTS ${db}.api_keys (
  \`id\` String COMMENT 'public key id (prefix shown to users)',
  \`hash\` String COMMENT 'hex hash of the secret part; the secret is never stored',
  \`role\` String,
  \`tenants\` Array(String) COMMENT 'tenants the key may act on; [*] = all',
  \`created_at\` DateTime('UTC'),
  \`revoked_at\` Nullable(DateTime('UTC')),
  \`updated_at\` DateTime('UTC')
) ENGINE = ReplacingMergeTree(updated_at)
ORDER BY id`,
      `CREATE TABLE IF NOT EXISTS ${db}.legal_holds (
  \`tenant_id\` String COMMENT 'held tenant; * holds every tenant',
  \`hold_id\` String,
  \`reason\` String,
  \`created_at\` DateTime('UTC'),
  \`released_at\` Nullable(DateTime('UTC')),
  \`updated_at\` DateTime('UTC')
) ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (tenant_id, hold_id)`,
    ];
  },
};
