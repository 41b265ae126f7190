import {
  type Capabilities,
  ident,
  joinSql,
  type Layout,
  LOOKUPS,
  layoutFor,
  p,
  type SqlFragment,
  sql,
  table,
  timeRange,
  unsafeRaw,
} from '@auditstream/clickhouse';
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
  q?: string | undefined;
}

const secondsOf = (us: bigint) => new Date(Number(us / 1_000_000n) * 1000);

/** Whole-second superset of [from, to), for the lookup tables (no µs column there). */
function coarseRange(layout: Layout, from: bigint, to: bigint): SqlFragment {
  if (layout === 'modern') return sql`occurred_at >= ${p.dateTime64(from)} AND occurred_at < ${p.dateTime64(to)}`;
  return sql`occurred_at >= ${p.dateTime(secondsOf(from))} AND occurred_at <= ${p.dateTime(secondsOf(to))}`;
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
 * The WHERE clause of an event query. On servers without skip indexes (18.16), a filter on
 * actor, resource or IP first reads event ids from the storage module's lookup table sorted by
 * that column (LOOKUPS), as its own eventsWhere() does.
 */
export function eventsWhere(caps: Capabilities, database: string, f: EventQuery): SqlFragment {
  const layout = layoutFor(caps);
  const parts: SqlFragment[] = [tenantCondition(f.scope), timeRange(layout, f.from, f.to)];
  const eq = (col: string, v: string | undefined) => {
    if (v !== undefined) parts.push(sql`${ident(col)} = ${v}`);
  };
  eq('action', f.action);
  eq('category', f.category);
  eq('outcome', f.outcome);
  eq('severity', f.severity);
  eq('actor_type', f.actor_type);
  eq('actor_id', f.actor_id);
  eq('resource_type', f.resource_type);
  eq('resource_id', f.resource_id);
  eq('service', f.service);
  eq('actor_ip', f.source_ip);
  if (f.action_prefix !== undefined) parts.push(sql`startsWith(action, ${f.action_prefix})`);
  if (f.q !== undefined) {
    const q = f.q;
    parts.push(
      layout === 'modern'
        ? sql`(positionCaseInsensitiveUTF8(reason, ${q}) > 0 OR arrayExists(x -> positionCaseInsensitiveUTF8(x, ${q}) > 0, mapValues(attributes)) OR arrayExists(x -> positionCaseInsensitiveUTF8(x, ${q}) > 0, mapKeys(attributes)))`
        : sql`(positionCaseInsensitiveUTF8(reason, ${q}) > 0 OR arrayExists(x -> positionCaseInsensitiveUTF8(x, ${q}) > 0, ${ident('attr_values')}) OR arrayExists(x -> positionCaseInsensitiveUTF8(x, ${q}) > 0, ${ident('attr_keys')}))`,
    );
  }
  if (!caps.skipIndexes) {
    const lookup =
      f.actor_id !== undefined
        ? { spec: LOOKUPS.actor, cond: sql`actor_id = ${f.actor_id}` }
        : f.resource_id !== undefined
          ? { spec: LOOKUPS.resource, cond: sql`resource_id = ${f.resource_id}` }
          : f.source_ip !== undefined
            ? { spec: LOOKUPS.ip, cond: sql`actor_ip = ${f.source_ip}` }
            : undefined;
    if (lookup) {
      parts.push(
        sql`event_id IN (SELECT event_id FROM ${table(database, lookup.spec.table)} WHERE ${tenantCondition(f.scope)} AND ${lookup.cond} AND ${coarseRange(layout, f.from, f.to)})`,
      );
    }
  }
  return joinSql(parts, ' AND ');
}
