import { type Capabilities, eventConditions, ident, joinSql, type Layout, layoutFor, p, type SqlFragment, sql, unsafeRaw } from '@auditstream/clickhouse';
import type { TenantScope } from '../scope.js';

/**
 * WHERE clauses for the API's queries, built with the storage module's safe-SQL builder only
 * (values become server-side parameters or quoteString() literals, identifiers come from its
 * allow-list). Nothing here concatenates request text into SQL.
 *
 * Every builder takes a TenantScope and starts with the tenant condition: the query layer, not
 * the routes, enforces tenant isolation.
 */
export function tenantCondition(scope: TenantScope, column = 'tenant_id'): SqlFragment {
  if (scope.all) return sql`1`;
  if (scope.tenants.length === 0) return sql`0`; // never reached (resolveScope refuses), but never "all"
  if (scope.tenants.length === 1) return sql`${ident(column)} = ${scope.tenants[0] as string}`;
  // A tuple of strings, not an array: 18.16 refuses `x IN [...]`, and the tuple keeps the primary key usable.
  return sql`${ident(column)} IN (${joinSql(
    scope.tenants.map((t) => sql`${t}`),
    ', ',
  )})`;
}

/**
 * A LIMIT count: 18.16 takes only a literal number after LIMIT (no parameters, no toUInt32()),
 * so a validated integer becomes SQL text here, the one place the API does that.
 */
export function limitCount(n: number): SqlFragment {
  if (!Number.isSafeInteger(n) || n < 1 || n > 1_000_000) throw new RangeError('LIMIT count must be an integer in 1..1000000');
  return unsafeRaw(String(n));
}

/** The event filters of the API, all optional except the scope and the range (µs, [from, to)). */
export interface EventQuery {
  scope: TenantScope;
  from: bigint;
  to: bigint;
  actor_id?: string | undefined;
  actor_type?: string | undefined;
  action?: string | undefined;
  action_prefix?: string | undefined;
  category?: string | undefined;
  outcome?: string | undefined;
  severity?: string | undefined;
  resource_type?: string | undefined;
  resource_id?: string | undefined;
  service?: string | undefined;
  source_ip?: string | undefined;
  session_id?: string | undefined;
  q?: string | undefined;
}

/** The exact occurred_at in µs (legacy layout splits it into seconds + µs), for keyset comparisons. */
export function exactTime(layout: Layout): SqlFragment {
  return layout === 'modern' ? sql`occurred_at` : sql`(toUInt64(occurred_at) * 1000000 + ${ident('occurred_at_us')})`;
}

export function timeValue(layout: Layout, us: bigint): SqlFragment {
  return layout === 'modern' ? sql`${p.dateTime64(us)}` : sql`${p.uint64(us)}`;
}

/** ORDER BY of the events listing: time (µs) then event_id, both in `dir`. */
export function eventOrder(layout: Layout, order: 'asc' | 'desc'): SqlFragment {
  // unsafeRaw-free: the direction is one of two constants chosen here.
  return order === 'asc'
    ? layout === 'modern'
      ? sql`occurred_at ASC, event_id ASC`
      : sql`occurred_at ASC, occurred_at_us ASC, event_id ASC`
    : layout === 'modern'
      ? sql`occurred_at DESC, event_id DESC`
      : sql`occurred_at DESC, occurred_at_us DESC, event_id DESC`;
}

/** Rows strictly after the keyset position in the listing's order. */
export function afterPosition(layout: Layout, order: 'asc' | 'desc', t: bigint, eventId: string): SqlFragment {
  const exact = exactTime(layout);
  const tv = timeValue(layout, t);
  return order === 'asc'
    ? sql`(${exact} > ${tv} OR (${exact} = ${tv} AND event_id > ${p.uuid(eventId)}))`
    : sql`(${exact} < ${tv} OR (${exact} = ${tv} AND event_id < ${p.uuid(eventId)}))`;
}

/**
 * The WHERE clause of an event query: the storage module's eventConditions (tenant, range,
 * equality filters, lookup tables on servers without skip indexes) with the scope's tenant
 * condition, plus the API's own action prefix and free-text search. `direct`: for a table sorted by
 * the filtered columns (events_by_resource_rows), which needs no lookup table.
 */
export function eventsWhere(caps: Capabilities, database: string, f: EventQuery, o: { direct?: boolean } = {}): SqlFragment {
  const layout = layoutFor(caps);
  const parts: SqlFragment[] = [
    eventConditions(caps, database, {
      ...(o.direct ? { direct: true } : {}),
      tenant: tenantCondition(f.scope),
      from: f.from,
      to: f.to,
      equals: {
        action: f.action,
        category: f.category,
        outcome: f.outcome,
        severity: f.severity,
        actor_type: f.actor_type,
        actor_id: f.actor_id,
        resource_type: f.resource_type,
        resource_id: f.resource_id,
        service: f.service,
        actor_ip: f.source_ip,
        actor_session_id: f.session_id,
      },
    }),
  ];
  if (f.action_prefix !== undefined) parts.push(sql`startsWith(action, ${f.action_prefix})`);
  if (f.q !== undefined) {
    const q = f.q;
    parts.push(
      layout === 'modern'
        ? sql`(positionCaseInsensitiveUTF8(reason, ${q}) > 0 OR arrayExists(x -> positionCaseInsensitiveUTF8(x, ${q}) > 0, mapValues(attributes)) OR arrayExists(x -> positionCaseInsensitiveUTF8(x, ${q}) > 0, mapKeys(attributes)))`
        : sql`(positionCaseInsensitiveUTF8(reason, ${q}) > 0 OR arrayExists(x -> positionCaseInsensitiveUTF8(x, ${q}) > 0, ${ident('attr_values')}) OR arrayExists(x -> positionCaseInsensitiveUTF8(x, ${q}) > 0, ${ident('attr_keys')}))`,
    );
  }
  return joinSql(parts, ' AND ');
}
