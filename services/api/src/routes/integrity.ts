import type { FastifyInstance } from 'fastify';
import { badParameter, ProblemError } from '../problem.js';
import { latestCheckpoints } from '../queries/checkpoints.js';
import { timeRangeParams } from '../schemas/common.js';
import { named } from '../schemas/registry.js';
import { parseRange } from '../time.js';
import type { RouteContext } from './context.js';

interface VerifyBody {
  from?: string;
  to?: string;
  latest?: boolean;
}

const verifyBodySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    from: { ...timeRangeParams.from, description: 'Verify events from this time (with to). Bounded span: api.export_max_range_s.' },
    to: { ...timeRangeParams.to, description: 'Verify events before this time (with from).' },
    latest: { type: 'boolean', description: 'Return the latest verification result instead of running one (the default when no range is given).' },
  },
} as const;

const findingSchema = {
  type: 'object',
  required: ['kind', 'detail'],
  properties: {
    kind: { type: 'string' },
    detail: { type: 'string' },
    topic: { type: 'string' },
    partition: { type: 'integer' },
    offset: { type: 'string' },
    event_id: { type: 'string' },
  },
} as const;

const reportSchema = named('IntegrityReport', {
  type: 'object',
  required: ['status', 'checked_at', 'from', 'to', 'events_checked', 'checkpoints_checked', 'failures'],
  properties: {
    status: { type: 'string', enum: ['ok', 'failed', 'incomplete'] },
    checked_at: { type: 'string', format: 'date-time' },
    from: { type: ['string', 'null'], format: 'date-time' },
    to: { type: ['string', 'null'], format: 'date-time' },
    events_checked: { type: 'integer', minimum: 0 },
    checkpoints_checked: { type: 'integer', minimum: 0 },
    failures: { type: 'array', items: findingSchema },
    warnings: { type: 'array', items: findingSchema },
  },
});

export function integrityRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.post<{ Body: VerifyBody | undefined }>(
    '/v1/integrity/verify',
    {
      // No body at all means {} (the latest result).
      preValidation: async (request) => {
        if (request.body === undefined || request.body === null) request.body = {};
      },
      config: { permission: 'integrity:verify', rateCost: ctx.config.rate_limit_export_cost, problems: [400, 401, 403, 404, 413, 415, 429, 501, 503, 504] },
      schema: {
        operationId: 'verifyIntegrity',
        summary: 'Verify the hash chains (or get the latest verification)',
        description:
          'With from and to: verifies the hash chains and signed checkpoints covering the events of that range and returns the report. ' +
          'Without a range (or with latest: true): returns the most recent verification result (404 when none ran yet). ' +
          'Admin only. Answers 501 when no verifier is configured in this deployment. Recorded as an audit.query event.',
        tags: ['integrity'],
        body: verifyBodySchema,
        response: { 200: reportSchema },
      },
    },
    async (request) => {
      const body = request.body ?? {};
      const hasRange = body.from !== undefined || body.to !== undefined;
      if (hasRange && body.latest === true) throw badParameter('latest', 'cannot be combined with from and to', 'body');
      if (body.from !== undefined && body.to === undefined) throw badParameter('to', 'is required with from', 'body');
      if (body.to !== undefined && body.from === undefined) throw badParameter('from', 'is required with to', 'body');
      const range = hasRange ? parseRange(body.from as string, body.to as string, ctx.config.export_max_range_s, 'body') : undefined;
      const scope = { all: true } as const;
      if (!ctx.verify) {
        await ctx.audit.record(request, {
          kind: 'query',
          scope,
          outcome: 'failure',
          reason: 'not_configured',
          filter: { ...body },
          resource: { type: 'integrity', id: 'verify' },
        });
        throw new ProblemError(
          'not_configured',
          'integrity verification is not configured in this deployment: no verifier is wired into the API (see docs/api.md#integrity)',
        );
      }
      const abort = new AbortController();
      request.raw.once('close', () => abort.abort());
      const report = range
        ? await ctx.metrics.timeQuery('integrity_verify', () =>
            (ctx.verify as NonNullable<typeof ctx.verify>).verifyRange({ ...range, scope, signal: abort.signal }),
          )
        : await ctx.metrics.timeQuery('integrity_latest', () => (ctx.verify as NonNullable<typeof ctx.verify>).latest({ scope }));
      await ctx.audit.record(request, {
        kind: 'query',
        scope,
        filter: { ...body },
        resource: { type: 'integrity', id: range ? 'verify' : 'latest' },
        extra: { result_status: report?.status ?? 'none' },
      });
      if (!report) throw new ProblemError('not_found', 'no integrity verification has run yet; POST a range (from, to) to run one');
      return report;
    },
  );

  app.get(
    '/v1/integrity/checkpoints',
    {
      config: { permission: 'integrity:verify', problems: [401, 403, 429, 503, 504] },
      schema: {
        operationId: 'latestCheckpoints',
        summary: 'The latest signed checkpoint of each partition',
        description: 'One entry per (topic, partition) with its latest checkpoint and how many it has. Admin only. Recorded as an audit.query event.',
        tags: ['integrity'],
        response: {
          200: {
            type: 'object',
            required: ['data'],
            properties: {
              data: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['topic', 'partition', 'last_offset', 'chain_seq', 'chain_head', 'created_at', 'key_id', 'checkpoints'],
                  properties: {
                    topic: { type: 'string' },
                    partition: { type: 'integer' },
                    last_offset: { type: 'string' },
                    chain_seq: { type: 'string' },
                    chain_head: { type: 'string' },
                    created_at: { type: 'string', format: 'date-time' },
                    key_id: { type: 'string' },
                    checkpoints: { type: 'integer' },
                  },
                },
              },
            },
          },
        },
      },
    },
    async (request) => {
      const data = await ctx.metrics.timeQuery('integrity_checkpoints', () => latestCheckpoints(ctx.ch, ctx.querySettings));
      await ctx.audit.record(request, {
        kind: 'query',
        scope: { all: true },
        filter: {},
        resource: { type: 'integrity', id: 'checkpoints' },
        extra: { result_count: data.length },
      });
      return { data };
    },
  );
}
