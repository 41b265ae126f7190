import type { FastifyInstance } from 'fastify';
import { freshness } from '../queries/freshness.js';
import { READ_PROBLEMS } from '../schemas/common.js';
import { freshnessQuerySchema, freshnessResponseSchema } from '../schemas/freshness.js';
import { microsToIso } from '../time.js';
import { principalOf, type RouteContext } from './context.js';
import { type EventFilterInput, eventQueryFrom, filterOf } from './filters.js';

interface FreshnessQuery extends EventFilterInput {
  producers?: number;
}

/**
 * GET /v1/freshness: the newest stored event per partition and per producer (docs/api.md#freshness),
 * under the same tenant scope and filters as a search. Recorded as an audit.query event.
 */
export function freshnessRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.get<{ Querystring: FreshnessQuery }>(
    '/v1/freshness',
    {
      config: { permission: 'events:read', problems: READ_PROBLEMS },
      schema: {
        operationId: 'freshness',
        summary: 'Newest stored event per partition and per producer',
        description:
          'For each Kafka partition and each producer (producer_id), the time of the newest stored event among those matching the filters in ' +
          '[from, to): with ingest\u2019s consumer lag it tells a stalled pipeline from a quiet one. Recorded as an audit.query event.',
        tags: ['stats'],
        querystring: freshnessQuerySchema,
        response: { 200: freshnessResponseSchema },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const input = request.query;
      const { query, scope } = eventQueryFrom(input, principal, ctx.config.max_range_s);
      const res = await ctx.metrics.timeQuery('freshness', () => freshness(ctx.ch, query, { producers: input.producers ?? 100, settings: ctx.querySettings }));
      await ctx.audit.record(request, {
        kind: 'query',
        scope,
        filter: filterOf(input),
        resource: { type: 'audit_events', id: 'freshness' },
        extra: { result_count: res.partitions.length + res.producers.length },
      });
      return {
        as_of: new Date().toISOString(),
        from: microsToIso(query.from),
        to: microsToIso(query.to),
        partitions: res.partitions.map((p) => ({
          partition: p.partition,
          newest_event_at: microsToIso(p.newest_event_us),
          newest_stored_at: new Date(p.newest_stored_ms).toISOString(),
          events: p.events,
        })),
        producers: res.producers.map((p) => ({
          producer_id: p.producer_id,
          service: p.service,
          newest_event_at: microsToIso(p.newest_event_us),
          max_seq: p.max_seq,
          events: p.events,
        })),
      };
    },
  );
}
