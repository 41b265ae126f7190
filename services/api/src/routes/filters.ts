import { isIP } from 'node:net';
import type { StoredEvent } from '@auditstream/clickhouse';
import { badParameter, ProblemError } from '../problem.js';
import type { EventQuery } from '../queries/scope-sql.js';
import { FIXED_FILTER_KEYS, type FixedFilters, type Principal, resolveScope, type TenantScope } from '../scope.js';
import { parseRange } from '../time.js';

/** The event filter parameters as validated by the JSON schema (eventFilterParams). */
export interface EventFilterInput {
  from: string;
  to: string;
  tenant?: string;
  actor_id?: string;
  actor_type?: string;
  action?: string;
  action_prefix?: string;
  category?: string;
  outcome?: string;
  severity?: string;
  resource_type?: string;
  resource_id?: string;
  service?: string;
  source_ip?: string;
  session_id?: string;
  q?: string;
}

/**
 * The checks JSON Schema cannot express (a real date, the span, exclusive parameters, a real IP
 * address) and the tenant scope, turning validated parameters into the query layer's EventQuery.
 */
export function eventQueryFrom(input: EventFilterInput, principal: Principal, maxSpanS: number): { query: EventQuery; scope: TenantScope } {
  const range = parseRange(input.from, input.to, maxSpanS);
  if (input.action !== undefined && input.action_prefix !== undefined) throw badParameter('action_prefix', 'cannot be combined with action');
  if (input.source_ip !== undefined && isIP(input.source_ip) === 0) throw badParameter('source_ip', 'must be an IPv4 or IPv6 address');
  const scope = resolveScope(principal, input.tenant);
  const fixed = fixedFilters(principal, input);
  return {
    scope,
    query: {
      scope,
      from: range.from,
      to: range.to,
      actor_id: input.actor_id,
      actor_type: input.actor_type,
      action: input.action,
      action_prefix: input.action_prefix,
      category: input.category,
      outcome: input.outcome,
      severity: input.severity,
      resource_type: input.resource_type,
      resource_id: input.resource_id,
      service: input.service,
      source_ip: input.source_ip,
      session_id: input.session_id,
      q: input.q,
      ...fixed,
    },
  };
}

/**
 * A viewer token's fixed filters, checked against the request: a parameter may repeat a fixed
 * value (or, for a fixed action_prefix, name an action under it), anything else is 403. The
 * returned filters are applied on top of the request's, so the query never leaves the scope.
 */
function fixedFilters(principal: Principal, input: EventFilterInput): FixedFilters {
  const fixed = principal.fixed ?? {};
  for (const key of FIXED_FILTER_KEYS) {
    const want = fixed[key];
    const given = input[key];
    if (want === undefined || given === undefined || given === want) continue;
    if (key === 'action_prefix' && input.action === undefined && given.startsWith(want)) continue;
    throw new ProblemError('forbidden', `parameter ${key} is fixed by the viewer token`, {
      errors: [{ parameter: key, in: 'query', message: 'outside the filters fixed by the viewer token' }],
    });
  }
  if (fixed.action_prefix !== undefined && input.action !== undefined && !input.action.startsWith(fixed.action_prefix))
    throw new ProblemError('forbidden', 'parameter action is outside the action_prefix fixed by the viewer token', {
      errors: [{ parameter: 'action', in: 'query', message: 'outside the filters fixed by the viewer token' }],
    });
  // A narrower prefix the caller gave stays (both conditions apply: the narrower one wins).
  const out: FixedFilters = { ...fixed };
  if (fixed.action_prefix !== undefined && input.action_prefix !== undefined) delete out.action_prefix;
  return out;
}

/** Whether one stored event is inside a viewer token's fixed filters (always, for other credentials). */
export function visibleToPrincipal(principal: Principal, s: StoredEvent): boolean {
  const f = principal.fixed;
  if (!f) return true;
  const e = s.event;
  const values: Record<keyof FixedFilters, string> = {
    actor_id: e.actor.id,
    actor_type: e.actor.type,
    action: e.action,
    action_prefix: e.action,
    category: e.category,
    outcome: e.outcome,
    severity: e.severity ?? 'info',
    resource_type: e.resource?.type ?? '',
    resource_id: e.resource?.id ?? '',
    service: e.service,
    source_ip: e.actor.ip ?? '',
  };
  return FIXED_FILTER_KEYS.every((k) => {
    const want = f[k];
    if (want === undefined) return true;
    return k === 'action_prefix' ? values[k].startsWith(want) : values[k] === want;
  });
}

/** The filter part of the parameters (no paging), for cursor digests and self-audit attributes. */
export function filterOf<T extends object>(input: T, omit: readonly string[] = ['cursor', 'limit']): Record<string, unknown> {
  return Object.fromEntries(Object.entries(input).filter(([k, v]) => v !== undefined && !omit.includes(k)));
}
