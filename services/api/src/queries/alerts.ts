import { type ClickHouse, joinSql, p, parseClickHouseTime, type SqlFragment, sql, table } from '@auditstream/clickhouse';
import type { ApiAlert } from '@auditstream/schemas';
import type { ClickHouseSettings } from '@clickhouse/client';
import type { TenantScope } from '../scope.js';
import { limitCount, tenantCondition } from './scope-sql.js';

/**
 * Alert history from audit.alerts. A change of an alert (resolved, updated) is a new row with a
 * later updated_at; FINAL returns the latest version of each alert (the table is small, which
 * is what the storage module prescribes for it). Keyset pagination on (fired_at, alert_id),
 * newest first.
 */
export interface AlertQuery {
  scope: TenantScope;
  /** µs, [from, to) on fired_at (whole seconds in storage). */
  from: bigint;
  to: bigint;
  rule_id?: string | undefined;
  severity?: string | undefined;
  status?: string | undefined;
}

/** An alert as stored: the API's alert with its times in µs since the epoch. */
export type AlertRow = Omit<ApiAlert, 'fired_at' | 'updated_at'> & { fired_at: bigint; updated_at: bigint };

const toSecondDate = (us: bigint) => new Date(Number(us / 1_000_000n) * 1000);
const ceilSecondDate = (us: bigint) => new Date(Number((us + 999_999n) / 1_000_000n) * 1000);

export async function listAlerts(
  ch: ClickHouse,
  query: AlertQuery,
  options: { limit: number; after?: { t: bigint; id: string } | undefined; settings?: ClickHouseSettings },
): Promise<{ alerts: AlertRow[]; more: boolean }> {
  const parts: SqlFragment[] = [
    tenantCondition(query.scope),
    // fired_at has whole seconds: [from, to) rounded outward would include a second too many at the end.
    sql`fired_at >= ${p.dateTime(ceilSecondDate(query.from))} AND fired_at < ${p.dateTime(ceilSecondDate(query.to))}`,
  ];
  if (query.rule_id !== undefined) parts.push(sql`rule_id = ${query.rule_id}`);
  if (query.severity !== undefined) parts.push(sql`severity = ${query.severity}`);
  if (query.status !== undefined) parts.push(sql`status = ${query.status}`);
  if (options.after) {
    const t = p.dateTime(toSecondDate(options.after.t));
    parts.push(sql`(fired_at < ${t} OR (fired_at = ${t} AND alert_id < ${options.after.id}))`);
  }
  // Aliases differ from column names: ClickHouse resolves aliases in WHERE and ORDER BY too.
  const q = sql`SELECT alert_id, tenant_id, rule_id, toString(severity) AS severity_text, toString(status) AS status_text, title, details, event_ids,
       toString(fired_at) AS fired_at_text, toString(updated_at) AS updated_at_text
FROM ${table(ch.database, 'alerts')} FINAL
WHERE ${joinSql(parts, ' AND ')}
ORDER BY fired_at DESC, alert_id DESC
LIMIT ${limitCount(options.limit + 1)}`;
  const rows = await ch.queryRows<Record<string, unknown>>(q, { operation: 'api_alerts', ...(options.settings ? { settings: options.settings } : {}) });
  const alerts = rows.slice(0, options.limit).map((r) => ({
    alert_id: String(r.alert_id),
    tenant_id: String(r.tenant_id),
    rule_id: String(r.rule_id),
    severity: String(r.severity_text),
    status: String(r.status_text),
    title: String(r.title),
    details: parseDetails(String(r.details ?? '')),
    event_ids: Array.isArray(r.event_ids) ? (r.event_ids as unknown[]).map(String) : [],
    fired_at: parseClickHouseTime(String(r.fired_at_text)),
    updated_at: parseClickHouseTime(String(r.updated_at_text)),
  }));
  return { alerts, more: rows.length > options.limit };
}

function parseDetails(text: string): Record<string, unknown> {
  if (text === '') return {};
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : { value: v };
  } catch {
    return { text };
  }
}
