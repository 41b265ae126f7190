import { type ClickHouse, sql, table } from '@auditstream/clickhouse';
import type { TenantScope } from '../scope.js';
import { tenantCondition } from './scope-sql.js';

/**
 * audit.saved_searches rows (migration 010): every change is a new row with a higher version_ms,
 * a delete a tombstone (deleted = 1); FINAL folds them to the latest (ReplacingMergeTree), the
 * one way to delete on 18.16 without a mutation per click. Every read names the owning principal.
 */
export interface SavedSearchRow {
  principal: string;
  tenant_id: string;
  search_id: string;
  name: string;
  query: string;
  created_at_ms: number;
  version_ms: number;
  deleted: 0 | 1;
}

interface ReadRow {
  tenant_id: string;
  search_id: string;
  name: string;
  query: string;
  created: string;
  version: string;
}

const COLUMNS = sql`tenant_id, search_id, name, query, toString(created_at_ms) AS created, toString(version_ms) AS version`;

function toRow(principal: string, r: ReadRow): SavedSearchRow {
  return {
    principal,
    tenant_id: r.tenant_id,
    search_id: r.search_id,
    name: r.name,
    query: r.query,
    created_at_ms: Number(r.created),
    version_ms: Number(r.version),
    deleted: 0,
  };
}

/**
 * The principal's live searches: of one tenant (`tenant`), or of every tenant in the scope plus
 * the ones saved without a tenant (they run over the credential's own scope).
 */
export async function listSavedSearches(ch: ClickHouse, principal: string, where: { tenant: string } | { scope: TenantScope }): Promise<SavedSearchRow[]> {
  const tenant = 'tenant' in where ? sql`tenant_id = ${where.tenant}` : sql`(tenant_id = '' OR ${tenantCondition(where.scope)})`;
  const rows = await ch.queryRows<ReadRow>(
    sql`SELECT ${COLUMNS} FROM ${table(ch.database, 'saved_searches')} FINAL
WHERE principal = ${principal} AND ${tenant} AND deleted = 0
ORDER BY name, search_id`,
    { operation: 'api_saved_searches_list' },
  );
  return rows.map((r) => toRow(principal, r));
}

/** One of the principal's searches by id (tombstones too: their version orders the next change). */
export async function findSavedSearch(ch: ClickHouse, principal: string, searchId: string): Promise<(SavedSearchRow & { deleted: 0 | 1 }) | undefined> {
  const rows = await ch.queryRows<ReadRow & { del: number | string }>(
    sql`SELECT ${COLUMNS}, deleted AS del FROM ${table(ch.database, 'saved_searches')} FINAL
WHERE principal = ${principal} AND search_id = ${searchId}
LIMIT 1`,
    { operation: 'api_saved_searches_find' },
  );
  const r = rows[0];
  return r ? { ...toRow(principal, r), deleted: Number(r.del) === 1 ? 1 : 0 } : undefined;
}

export async function writeSavedSearch(ch: ClickHouse, row: SavedSearchRow): Promise<void> {
  await ch.insertJson('saved_searches', [{ ...row }], {
    operation: 'api_saved_searches_write',
    columns: ['principal', 'tenant_id', 'search_id', 'name', 'query', 'created_at_ms', 'version_ms', 'deleted'],
  });
}
