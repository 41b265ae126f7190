import type { StoredEvent } from '@auditstream/clickhouse';
import type { FastifyRequest } from 'fastify';
import { getEventById } from '../queries/events.js';
import { type Principal, resolveScope, type TenantScope } from '../scope.js';
import { principalOf, type RouteContext } from './context.js';
import { visibleToPrincipal } from './filters.js';

/** What the routes under /v1/events/{event_id} know after the lookup, for their answer and their audit record. */
export interface VisibleEventLookup {
  principal: Principal;
  /** The event id, lower-cased. */
  id: string;
  /** The stored event, or undefined when it does not exist or is not visible to the credential (the two are indistinguishable). */
  event: StoredEvent | undefined;
  /** The audit record's scope (the event's tenant when found) and filter. */
  audit: { scope: TenantScope; filter: { event_id: string; tenant: string | undefined } };
}

/**
 * The one lookup of a single event by id: within the caller's tenant scope (or the `tenant`
 * parameter), and inside a viewer token's fixed filters.
 */
export async function findVisibleEvent(
  ctx: RouteContext,
  request: FastifyRequest<{ Params: { event_id: string }; Querystring: { tenant?: string } }>,
): Promise<VisibleEventLookup> {
  const principal = principalOf(request);
  const scope = resolveScope(principal, request.query.tenant);
  const id = request.params.event_id.toLowerCase();
  const found = await ctx.metrics.timeQuery('get_event', () => getEventById(ctx.ch, scope, id, ctx.querySettings));
  const event = found && visibleToPrincipal(principal, found) ? found : undefined;
  return {
    principal,
    id,
    event,
    audit: { scope: event ? { all: false, tenants: [event.event.tenant_id] } : scope, filter: { event_id: id, tenant: request.query.tenant } },
  };
}
