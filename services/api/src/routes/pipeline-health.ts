import type { FastifyInstance } from 'fastify';
import type { PipelineHealthReader } from '../pipeline-health.js';
import { pipelineHealthSchema } from '../schemas/pipeline-health.js';
import type { RouteContext } from './context.js';

/** GET /v1/health/pipeline (pipeline-health.ts says where each number comes from). */
export function pipelineHealthRoutes(app: FastifyInstance, ctx: RouteContext, reader: PipelineHealthReader): void {
  app.get(
    '/v1/health/pipeline',
    {
      config: { permission: 'pipeline:read', problems: [401, 403, 429, 503] },
      schema: {
        operationId: 'pipelineHealth',
        summary: 'Ingest lag, dead letters by class and alert delivery failures',
        description:
          'Ingest lag from Kafka (high watermarks minus the ingest group\u2019s committed offsets); dead letters by class from ingest\u2019s /metrics; ' +
          'alert delivery failures from alerting\u2019s /metrics. A source that cannot be read is reported reachable: false with the reason ' +
          '(200, never a 5xx for it). Admin and auditor; whole-pipeline numbers, no tenant data. Recorded as an audit.query event.',
        tags: ['health'],
        response: { 200: pipelineHealthSchema },
      },
    },
    async (request) => {
      const health = await reader.read();
      await ctx.audit.record(request, {
        kind: 'query',
        resource: { type: 'pipeline_health', id: 'pipeline' },
        extra: {
          ingest_lag_reachable: String(health.ingest_lag.reachable),
          ingest_reachable: String(health.ingest.reachable),
          alerting_reachable: String(health.alerting.reachable),
        },
      });
      return health;
    },
  );
}
