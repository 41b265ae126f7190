import { type ClickHouse, joinSql, p, parseClickHouseTime, type SqlFragment, sql, table, unsafeRaw } from '@auditstream/clickhouse';
import type { ApiAlert } from '@auditstream/schemas';
import type { ClickHouseSettings } from '@clickhouse/client';
import type { TenantScope } from '../scope.js';
import { limitCount, tenantCondition } from './scope-sql.js';

/**
 * Alert history from audit.alerts. A change of an alert (resolved, updated) is a new row with a
 * later updated_at; each alert is read as its latest version (the table is small, which is what
 * the storage module prescribes for it), once per alert id. Keyset pagination on (fired_at,
 * alert_id), newest first.
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

/** An alert as stored: the API's alert with its times in µs since the epoch, before reveal.ts presents its personal values. */
export type AlertRow = Omit<ApiAlert, 'fired_at' | 'updated_at' | 'masked'> & { fired_at: bigint; updated_at: bigint };

const toSecondDate = (us: bigint) => new Date(Number(us / 1_000_000n) * 1000);
const ceilSecondDate = (us: bigint) => new Date(Number((us + 999_999n) / 1_000_000n) * 1000);

export async function listAlerts(
  ch: ClickHouse,
  query: AlertQuery,
  options: { limit: number; after?: { t: bigint; id: string } | undefined; settings?: ClickHouseSettings },
): Promise<{ alerts: AlertRow[]; more: boolean }> {
  // Per row (before grouping): who and which rule. Per alert (after): its first firing and its latest state.
  const where: SqlFragment[] = [tenantCondition(query.scope)];
  if (query.rule_id !== undefined) where.push(sql`rule_id = ${query.rule_id}`);
  const having: SqlFragment[] = [
    // fired_at has whole seconds: [from, to) rounded outward would include a second too many at the end.
    sql`first_fired >= ${p.dateTime(ceilSecondDate(query.from))} AND first_fired < ${p.dateTime(ceilSecondDate(query.to))}`,
  ];
  if (query.severity !== undefined) having.push(sql`severity_text = ${query.severity}`);
  if (query.status !== undefined) having.push(sql`status_text = ${query.status}`);
  if (options.after) {
    const t = p.dateTime(toSecondDate(options.after.t));
    having.push(sql`(first_fired < ${t} OR (first_fired = ${t} AND alert_id < ${options.after.id}))`);
  }
  // One alert, one answer row. FINAL settles the versions of a row key (the last inserted wins a tie).
  // Two alerting instances that wrote the same alert at once (both missed the stored fired_at) made
  // two keys, whose fired_at may fall on different days or partitions where FINAL never merges them:
  // grouped by alert id, the alert is first fired at the earliest, in its latest state (the earliest
  // firing's row on an equal update time). Aliases differ from column names: ClickHouse resolves
  // aliases in WHERE, HAVING and ORDER BY too.
  const latest = (col: string) => unsafeRaw(`argMax(${col}, (updated_at, -toInt64(toUInt32(fired_at))))`);
  const q = sql`SELECT alert_id, tenant_id, rule_id, ${latest('toString(severity)')} AS severity_text, ${latest('toString(status)')} AS status_text,
       ${latest('title')} AS title_text, ${latest('details')} AS details_text, ${latest('event_ids')} AS event_id_list,
       min(fired_at) AS first_fired, toString(first_fired) AS fired_at_text, toString(max(updated_at)) AS updated_at_text
FROM ${table(ch.database, 'alerts')} FINAL
WHERE ${joinSql(where, ' AND ')}
GROUP BY tenant_id, rule_id, alert_id
HAVING ${joinSql(having, ' AND ')}
ORDER BY first_fired DESC, alert_id DESC
LIMIT ${limitCount(options.limit + 1)}`;
  const rows = await ch.queryRows<Record<string, unknown>>(q, { operation: 'api_alerts', ...(options.settings ? { settings: options.settings } : {}) });
  const alerts = rows.slice(0, options.limit).map((r) => ({
    alert_id: String(r.alert_id),
    tenant_id: String(r.tenant_id),
    rule_id: String(r.rule_id),
    severity: String(r.severity_text),
    status: String(r.status_text),
    title: String(r.title_text),
    details: parseDetails(String(r.details_text ?? '')),
    event_ids: Array.isArray(r.event_id_list) ? (r.event_id_list as unknown[]).map(String) : [],
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
