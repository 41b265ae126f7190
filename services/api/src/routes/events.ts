import type { FastifyInstance } from 'fastify';
import { queryDigest } from '../cursor.js';
import { toApiEvent, toApiEventWithIntegrity } from '../present.js';
import { ProblemError } from '../problem.js';
import { searchEvents } from '../queries/events.js';
import { READ_PROBLEMS } from '../schemas/common.js';
import { eventIdParamsSchema, eventWithIntegritySchema, getEventQuerySchema, searchQuerySchema, searchResponseSchema } from '../schemas/events.js';
import { scopeLabel } from '../scope.js';
import { principalOf, type RouteContext } from './context.js';
import { type EventFilterInput, eventQueryFrom, filterOf } from './filters.js';
import { findVisibleEvent } from './find-event.js';

interface SearchQuery extends EventFilterInput {
  sort?: 'asc' | 'desc';
  limit?: number;
  cursor?: string;
}

const countMasked = (masked: readonly unknown[][]) => masked.reduce((n, m) => n + m.length, 0);

export function eventRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.get<{ Querystring: SearchQuery }>(
    '/v1/events',
    {
      config: { permission: 'events:read', problems: READ_PROBLEMS },
      schema: {
        operationId: 'searchEvents',
        summary: 'Search events',
        description:
          'Events in [from, to) matching every filter given, sorted by occurred_at then event_id, one page at a time. ' +
          'Follow next_cursor for the next page: pagination is keyset-based, so a page never repeats or skips an event that existed ' +
          'when the search started, however many events arrive meanwhile. Each event appears once even when it was delivered twice. ' +
          'Recorded as an audit.query event.',
        tags: ['events'],
        querystring: searchQuerySchema,
        response: { 200: searchResponseSchema },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const input = request.query;
      const { query, scope } = eventQueryFrom(input, principal, ctx.config.max_range_s);
      const order = input.sort ?? 'desc';
      const limit = input.limit ?? ctx.config.default_limit;
      const digest = queryDigest({ ...filterOf(input, ['cursor', 'limit', 'sort']), scope: scopeLabel(scope) });
      const after = input.cursor !== undefined ? ctx.cursors.decode(input.cursor, 'events', order, digest) : undefined;
      const { events, more } = await ctx.metrics.timeQuery('search', () => searchEvents(ctx.ch, query, { order, limit, after, settings: ctx.querySettings }));
      const last = events.at(-1);
      const next_cursor = more && last ? ctx.cursors.encode('events', order, digest, { t: BigInt(last.event.occurred_at), id: last.event.event_id }) : null;
      // Revealed before the record (nothing is sent yet), so it can say how many values the caller did not see.
      const masked = await ctx.fields.reveal(events, principal);
      await ctx.audit.record(request, {
        kind: 'query',
        scope,
        filter: filterOf(input, ['limit']),
        resource: { type: 'audit_events', id: 'search' },
        extra: { result_count: events.length, has_more: String(more), masked_fields: countMasked(masked) },
      });
      return { data: events.map((e, i) => toApiEvent(e, masked[i])), next_cursor };
    },
  );

  app.get<{ Params: { event_id: string }; Querystring: { tenant?: string } }>(
    '/v1/events/:event_id',
    {
      config: { permission: 'events:read', problems: [...READ_PROBLEMS, 404] },
      schema: {
        operationId: 'getEvent',
        summary: 'Get one event with its integrity fields',
        description:
          'The event with this id among the tenants of the credential (or the given tenant), with its place in the hash chain. ' +
          '404 when it does not exist or is not visible to the credential (the two are indistinguishable). Recorded as an audit.query event.',
        tags: ['events'],
        params: eventIdParamsSchema,
        querystring: getEventQuerySchema,
        response: { 200: eventWithIntegritySchema },
      },
    },
    async (request) => {
      const { principal, id, event, audit } = await findVisibleEvent(ctx, request);
      // The integrity fields describe the stored row (hash over the ciphertext); only the presented values change.
      const [masked = []] = event ? await ctx.fields.reveal([event], principal) : [];
      await ctx.audit.record(request, {
        kind: 'query',
        ...audit,
        resource: { type: 'audit_event', id },
        extra: { result_count: event ? 1 : 0, masked_fields: masked.length },
      });
      if (!event) throw new ProblemError('not_found', 'no event with this id is visible to this credential');
      return toApiEventWithIntegrity(event, masked);
    },
  );
}
