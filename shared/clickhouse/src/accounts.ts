import { createHash } from 'node:crypto';
import { AuditstreamError } from '@auditstream/core';
import type { Capabilities } from './capabilities.js';
import { BY_ID, LOOKUPS, RESOURCE_ROWS, ROLLUP, ROW_COUNTS } from './schema.js';
import { database as dbIdent, quoteString } from './sql.js';

/**
 * Least privilege: three accounts.
 *
 * | account             | may                                                        |
 * | ------------------- | ---------------------------------------------------------- |
 * | auditstream_ingest  | INSERT rows; no DDL, no ALTER/DELETE/DROP/TRUNCATE/OPTIMIZE |
 * | auditstream_reader  | SELECT only                                                |
 * | auditstream_admin   | migrations (DDL) and retention (DROP PARTITION / TTL)      |
 *
 * Servers with SQL access control (caps.sqlUsers): roles with per-table GRANTs (accountStatements).
 * 18.16 has no GRANT; users.xml profiles enforce what they can (renderUsersFragment):
 * - reader: readonly=2 (no INSERT, no DDL, no ALTER/DELETE/DROP/TRUNCATE/OPTIMIZE/SYSTEM, cannot
 *   change `readonly`; may change other settings, which the client needs for max_execution_time,
 *   wait_end_of_query and enable_http_compression; readonly=1 would reject every request from it).
 * - ingest: readonly=0 + allow_ddl=0 (no CREATE/ALTER incl. ALTER DELETE/UPDATE and DROP/DETACH
 *   PARTITION, no DROP/TRUNCATE/RENAME/OPTIMIZE/SYSTEM; cannot re-enable allow_ddl).
 *   NOT enforced on 18.16: which tables it inserts into (any table of the allowed database, e.g.
 *   legal_holds), that it may also SELECT those tables, and KILL QUERY of others' queries.
 * - all three: allow_databases = the audit database only (plus `system`, always readable),
 *   networks limited, passwords as SHA-256.
 */
export const ACCOUNT_ROLES = ['ingest', 'reader', 'admin'] as const;
export type AccountRole = (typeof ACCOUNT_ROLES)[number];

export const DEFAULT_ACCOUNT_NAMES: Readonly<Record<AccountRole, string>> = {
  ingest: 'auditstream_ingest',
  reader: 'auditstream_reader',
  admin: 'auditstream_admin',
};

/** Passwords of the fragment shipped in deploy/clickhouse/users.d: LOCAL DEVELOPMENT ONLY. */
export const DEV_PASSWORDS: Readonly<Record<AccountRole, string>> = {
  ingest: 'auditstream-ingest-dev',
  reader: 'auditstream-reader-dev',
  admin: 'auditstream-admin-dev',
};

export function sha256Hex(password: string): string {
  return createHash('sha256').update(password, 'utf8').digest('hex');
}

export interface UsersFragmentOptions {
  database: string;
  /** SHA-256 hex of each account's password. */
  passwordSha256: Record<AccountRole, string>;
  names?: Partial<Record<AccountRole, string>>;
  /** <ip> entries allowed to connect; default loopback only. */
  networks?: string[];
  /** Quota name that exists in the main users.xml. */
  quota?: string;
  /** Comment placed at the top of the file. */
  header?: string;
}

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const xmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Profile settings per role on servers without GRANT. */
export const LEGACY_PROFILES: Readonly<Record<AccountRole, Record<string, number>>> = {
  ingest: { readonly: 0, allow_ddl: 0 },
  reader: { readonly: 2, allow_ddl: 0 },
  admin: { readonly: 0, allow_ddl: 1 },
};

/** A users.d/*.xml fragment (root <yandex>, which every version reads) defining the three accounts. */
export function renderUsersFragment(o: UsersFragmentOptions): string {
  dbIdent(o.database);
  const names = { ...DEFAULT_ACCOUNT_NAMES, ...o.names };
  const networks = o.networks ?? ['127.0.0.1', '::1'];
  const quota = o.quota ?? 'default';
  const lines: string[] = ['<?xml version="1.0"?>'];
  if (o.header) lines.push(`<!--\n${o.header.replace(/--/g, '- -')}\n-->`);
  lines.push('<yandex>', '  <profiles>');
  for (const role of ACCOUNT_ROLES) {
    const name = names[role];
    if (!NAME_RE.test(name)) throw new AuditstreamError('CONFIG_INVALID', `account name for ${role} is not a plain identifier`, { field: role });
    lines.push(`    <${name}>`);
    for (const [k, v] of Object.entries(LEGACY_PROFILES[role])) lines.push(`      <${k}>${v}</${k}>`);
    lines.push(`    </${name}>`);
  }
  lines.push('  </profiles>', '  <users>');
  for (const role of ACCOUNT_ROLES) {
    const name = names[role];
    const hash = o.passwordSha256[role];
    if (!/^[0-9a-f]{64}$/.test(hash))
      throw new AuditstreamError('CONFIG_INVALID', `password hash for ${role} must be 64 lowercase hex characters`, { field: role });
    lines.push(
      `    <${name}>`,
      `      <password_sha256_hex>${hash}</password_sha256_hex>`,
      `      <networks>${networks.map((n) => `<ip>${xmlEscape(n)}</ip>`).join('')}</networks>`,
      `      <profile>${name}</profile>`,
      `      <quota>${xmlEscape(quota)}</quota>`,
      `      <allow_databases><database>${o.database}</database></allow_databases>`,
      `    </${name}>`,
    );
  }
  lines.push('  </users>', '</yandex>', '');
  return lines.join('\n');
}

export const USERS_FRAGMENT_HEADER = `auditstream service accounts for ClickHouse servers without SQL access control (18.16).
Generated by renderUsersFragment() in shared/clickhouse/src/accounts.ts; do not edit by hand
(the unit test compares this file with the renderer).
The password hashes are for LOCAL DEVELOPMENT ONLY (passwords in DEV_PASSWORDS, docs/storage.md):
production renders its own fragment with its own hashes.
ingest: readonly=0, allow_ddl=0 / reader: readonly=2 / admin: readonly=0, allow_ddl=1; database "audit" only.`;

/** The fragment shipped in deploy/clickhouse/users.d/auditstream.xml. */
export function devUsersFragment(): string {
  return renderUsersFragment({
    database: 'audit',
    passwordSha256: { ingest: sha256Hex(DEV_PASSWORDS.ingest), reader: sha256Hex(DEV_PASSWORDS.reader), admin: sha256Hex(DEV_PASSWORDS.admin) },
    header: USERS_FRAGMENT_HEADER,
  });
}

/**
 * SQL access control (caps.sqlUsers): a role per account with per-table grants, and the users.
 * Run by an account with access_management (the bootstrap admin), after migrations.
 */
export function accountStatements(
  caps: Capabilities,
  o: { database: string; passwordSha256: Record<AccountRole, string>; names?: Partial<Record<AccountRole, string>> },
): string[] {
  if (!caps.sqlUsers)
    throw new AuditstreamError('CLICKHOUSE_QUERY', `ClickHouse ${caps.version} has no SQL access control; use renderUsersFragment()`, { field: 'sqlUsers' });
  const db = dbIdent(o.database).text;
  const names = { ...DEFAULT_ACCOUNT_NAMES, ...o.names };
  const role = (r: AccountRole) => `${names[r]}_role`;
  const out: string[] = [];
  for (const r of ACCOUNT_ROLES) out.push(`CREATE ROLE IF NOT EXISTS ${role(r)}`);
  // ingest: insert events (and the lookup and rollup tables their views write), checkpoints and
  // DLQ decisions; read only what resuming a hash chain needs.
  for (const t of ['events', 'checkpoints', 'dlq_decisions']) out.push(`GRANT INSERT ON ${db}.${t} TO ${role('ingest')}`);
  if (!caps.skipIndexes) for (const l of Object.values(LOOKUPS)) out.push(`GRANT INSERT ON ${db}.${l.table} TO ${role('ingest')}`);
  for (const t of [ROLLUP.table, BY_ID.table, RESOURCE_ROWS.table, ROW_COUNTS.rows, ROW_COUNTS.dups])
    out.push(`GRANT INSERT ON ${db}.${t} TO ${role('ingest')}`);
  // recordDuplicates (duplicates.ts) reads the per-id row counts after each insert.
  out.push(`GRANT SELECT ON ${db}.${ROW_COUNTS.rows} TO ${role('ingest')}`);
  out.push(`GRANT SELECT ON ${db}.checkpoints TO ${role('ingest')}`);
  // field encryption: create subject keys, read them and the erasure tombstones.
  out.push(`GRANT INSERT, SELECT ON ${db}.subject_keys TO ${role('ingest')}`);
  out.push(`GRANT SELECT ON ${db}.subject_erasures TO ${role('ingest')}`);
  out.push(`GRANT SELECT(kafka_topic, kafka_partition, kafka_offset, event_id, chain_seq, prev_hash, hash) ON ${db}.events TO ${role('ingest')}`);
  out.push(`GRANT SELECT ON ${db}.* TO ${role('reader')}`);
  out.push(`GRANT ALL ON ${db}.* TO ${role('admin')}`);
  for (const r of ACCOUNT_ROLES) {
    const hash = o.passwordSha256[r];
    if (!/^[0-9a-f]{64}$/.test(hash)) throw new AuditstreamError('CONFIG_INVALID', `password hash for ${r} must be 64 lowercase hex characters`, { field: r });
    out.push(`CREATE USER IF NOT EXISTS ${names[r]} IDENTIFIED WITH sha256_hash BY ${quoteString(hash)}`);
    out.push(`GRANT ${role(r)} TO ${names[r]}`);
    out.push(`SET DEFAULT ROLE ${role(r)} TO ${names[r]}`);
  }
  // The reader may change settings (the client sends some) but not write: readonly=2 as on 18.16.
  out.push(`ALTER USER ${names.reader} SETTINGS readonly = 2`);
  return out;
}
