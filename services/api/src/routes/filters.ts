import { isIP } from 'node:net';
import { badParameter } from '../problem.js';
import type { EventQuery } from '../queries/scope-sql.js';
import { type Principal, resolveScope, type TenantScope } from '../scope.js';
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
      q: input.q,
    },
  };
}

/** The filter part of the parameters (no paging), for cursor digests and self-audit attributes. */
export function filterOf<T extends object>(input: T, omit: readonly string[] = ['cursor', 'limit']): Record<string, unknown> {
  return Object.fromEntries(Object.entries(input).filter(([k, v]) => v !== undefined && !omit.includes(k)));
}
