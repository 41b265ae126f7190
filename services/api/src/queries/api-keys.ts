import { type ClickHouse, parseClickHouseTime, sql, table } from '@auditstream/clickhouse';
import type { Role } from '../scope.js';

/**
 * audit.api_keys rows. A key is never updated in place: revocation inserts a new row for the
 * same id with revoked_at set. Rows of one id share hash, role and tenants; readers fold them
 * with GROUP BY id (revoked if any row says so), which does not depend on merges or on
 * updated_at ties the way FINAL would for a create and revoke within one second.
 */
export interface StoredApiKey {
  id: string;
  hash: string;
  role: Role;
  tenants: string[];
  /** µs since the epoch. */
  created_at: bigint;
  revoked_at: bigint | null;
  /** Extra permissions (audit.api_key_permissions): `pii` = may read decrypted personal fields. */
  permissions: string[];
}

interface KeyRow {
  id: string;
  key_hash: string;
  key_role: string;
  key_tenants: string[];
  created: string;
  revoked: string | null;
}

function toKey(r: KeyRow, permissions: string[] = []): StoredApiKey {
  return {
    id: r.id,
    hash: r.key_hash,
    role: r.key_role as Role,
    tenants: r.key_tenants,
    created_at: parseClickHouseTime(r.created),
    revoked_at: r.revoked === null || r.revoked === undefined ? null : parseClickHouseTime(r.revoked),
    permissions,
  };
}

// Aliases differ from the column names: 18.16 resolves an alias that shadows a column inside aggregates.
const FOLD = sql`id, any(hash) AS key_hash, any(role) AS key_role, any(tenants) AS key_tenants, toString(min(created_at)) AS created,
  if(count(revoked_at) > 0, toString(max(assumeNotNull(revoked_at))), NULL) AS revoked`;

export async function findApiKey(ch: ClickHouse, id: string): Promise<StoredApiKey | undefined> {
  const rows = await ch.queryRows<KeyRow>(sql`SELECT ${FOLD} FROM ${table(ch.database, 'api_keys')} WHERE id = ${id} GROUP BY id`, {
    operation: 'api_key_lookup',
  });
  if (!rows[0]) return undefined;
  return toKey(rows[0], (await permissionsOf(ch, [id])).get(id) ?? []);
}

export const API_KEY_PERMISSIONS = ['pii'] as const;

async function permissionsOf(ch: ClickHouse, ids: readonly string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (ids.length === 0) return out;
  const rows = await ch.queryRows<{ id: string; permission: string }>(
    sql`SELECT DISTINCT id, permission FROM ${table(ch.database, 'api_key_permissions')} WHERE has(${[...ids]}, id)`,
    { operation: 'api_key_permissions' },
  );
  for (const r of rows) out.set(r.id, [...(out.get(r.id) ?? []), r.permission].sort());
  return out;
}

export async function insertApiKeyPermission(ch: ClickHouse, row: { id: string; permission: string; at_s: number }): Promise<void> {
  await ch.insertJson('api_key_permissions', [{ id: row.id, permission: row.permission, created_at: row.at_s, updated_at: row.at_s }], {
    operation: 'api_key_write',
  });
}

export async function listApiKeys(ch: ClickHouse): Promise<StoredApiKey[]> {
  const rows = await ch.queryRows<KeyRow>(sql`SELECT ${FOLD} FROM ${table(ch.database, 'api_keys')} GROUP BY id ORDER BY created, id`, {
    operation: 'api_key_list',
  });
  const perms = await permissionsOf(
    ch,
    rows.map((r) => r.id),
  );
  return rows.map((r) => toKey(r, perms.get(r.id) ?? []));
}

export async function insertApiKeyRow(
  ch: ClickHouse,
  row: { id: string; hash: string; role: Role; tenants: readonly string[]; created_at_s: number; revoked_at_s: number | null; updated_at_s: number },
): Promise<void> {
  await ch.insertJson(
    'api_keys',
    [
      {
        id: row.id,
        hash: row.hash,
        role: row.role,
        tenants: [...row.tenants],
        created_at: row.created_at_s,
        revoked_at: row.revoked_at_s,
        updated_at: row.updated_at_s,
      },
    ],
    { operation: 'api_key_write' },
  );
}
