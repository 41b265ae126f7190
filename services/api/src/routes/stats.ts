import type { FastifyInstance } from 'fastify';
import { badParameter } from '../problem.js';
import { type GroupBy, INTERVALS, type IntervalName, type TopDimension, timeseries, top } from '../queries/stats.js';
import { READ_PROBLEMS } from '../schemas/common.js';
import { timeseriesQuerySchema, timeseriesResponseSchema, topQuerySchema, topResponseSchema } from '../schemas/stats.js';
import { microsToIso } from '../time.js';
import { principalOf, type RouteContext } from './context.js';
import { type EventFilterInput, eventQueryFrom, filterOf } from './filters.js';

interface TimeseriesQuery extends EventFilterInput {
  interval?: IntervalName;
  group_by?: GroupBy;
  groups?: number;
}

interface TopQuery extends EventFilterInput {
  dimension: TopDimension;
  limit?: number;
}

export function statsRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.get<{ Querystring: TimeseriesQuery }>(
    '/v1/stats/timeseries',
    {
      config: { permission: 'events:read', problems: READ_PROBLEMS },
      schema: {
        operationId: 'eventTimeseries',
        summary: 'Event counts per interval',
        description:
          'Distinct events per time bucket in [from, to), optionally one series per value of an allow-listed dimension. ' +
          'Takes the same filters as the search. Recorded as an audit.query event.',
        tags: ['stats'],
        querystring: timeseriesQuerySchema,
        response: { 200: timeseriesResponseSchema },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const input = request.query;
      const { query, scope } = eventQueryFrom(input, principal, ctx.config.max_range_s);
      const interval = input.interval ?? '1h';
      const seconds = INTERVALS[interval];
      const width = BigInt(seconds) * 1_000_000n;
      const buckets = Number((query.to - 1n) / width - query.from / width + 1n);
      if (buckets > ctx.config.max_timeseries_buckets)
        throw badParameter(
          'interval',
          `the range would have ${buckets} buckets, more than ${ctx.config.max_timeseries_buckets}; widen the interval or narrow the range`,
        );
      const points = await ctx.metrics.timeQuery('timeseries', () =>
        timeseries(ctx.ch, query, { interval, groupBy: input.group_by, groups: input.groups ?? 10, settings: ctx.querySettings }),
      );
      const byGroup = new Map<string | null, { t: string; count: number }[]>();
      for (const p of points) {
        const list = byGroup.get(p.group) ?? [];
        list.push({ t: new Date(p.bucket * 1000).toISOString(), count: p.count });
        byGroup.set(p.group, list);
      }
      const series = [...byGroup.entries()]
        .map(([group, pts]) => ({ group, total: pts.reduce((s, x) => s + x.count, 0), points: pts }))
        .sort((a, b) => b.total - a.total || String(a.group).localeCompare(String(b.group)));
      await ctx.audit.record(request, {
        kind: 'query',
        scope,
        filter: filterOf(input),
        resource: { type: 'audit_events', id: 'timeseries' },
        extra: { result_count: points.length },
      });
      return {
        from: microsToIso(query.from),
        to: microsToIso(query.to),
        interval,
        interval_s: seconds,
        group_by: input.group_by ?? null,
        series,
      };
    },
  );

  app.get<{ Querystring: TopQuery }>(
    '/v1/stats/top',
    {
      config: { permission: 'events:read', problems: READ_PROBLEMS },
      schema: {
        operationId: 'eventTop',
        summary: 'Top actors, resources or source IPs',
        description:
          'The most frequent actors, resources or source IPs among events matching the filters, by distinct events. Recorded as an audit.query event.',
        tags: ['stats'],
        querystring: topQuerySchema,
        response: { 200: topResponseSchema },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const input = request.query;
      const { query, scope } = eventQueryFrom(input, principal, ctx.config.max_range_s);
      const entries = await ctx.metrics.timeQuery('top', () =>
        top(ctx.ch, query, { dimension: input.dimension, limit: input.limit ?? 10, settings: ctx.querySettings }),
      );
      await ctx.audit.record(request, {
        kind: 'query',
        scope,
        filter: filterOf(input),
        resource: { type: 'audit_events', id: 'top' },
        extra: { result_count: entries.length },
      });
      return {
        dimension: input.dimension,
        data: entries.map((e) => {
          const v = e.values;
          const out: Record<string, string | number> = { tenant: e.tenant, count: e.count };
          if (v.actor_id !== undefined) out.actor_id = v.actor_id;
          if (v.resource_type !== undefined) out.resource_type = v.resource_type;
          if (v.resource_id !== undefined) out.resource_id = v.resource_id;
          // An encrypted IP groups per event (deterministic per event, not per value): shown as the mask.
          if (v.actor_ip !== undefined) out.source_ip = ctx.fields.maskValue(v.actor_ip);
          return out;
        }),
      };
    },
  );
}
