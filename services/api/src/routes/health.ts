import type { ClickHouse } from '@auditstream/clickhouse';
import { withTimeout } from '@auditstream/core';
import type { FastifyInstance } from 'fastify';

/** Liveness (the process answers) and readiness (ClickHouse answers within 2 s). No credentials. */
export function healthRoutes(app: FastifyInstance, ch: ClickHouse): void {
  const status = {
    type: 'object',
    required: ['status'],
    properties: { status: { type: 'string' }, checks: { type: 'object', additionalProperties: { type: 'boolean' } } },
  };
  app.get(
    '/healthz',
    { config: { public: true }, schema: { operationId: 'healthz', summary: 'Liveness', tags: ['health'], response: { 200: status } } },
    async () => ({
      status: 'ok',
    }),
  );
  app.get(
    '/readyz',
    {
      config: { public: true },
      schema: { operationId: 'readyz', summary: 'Readiness (ClickHouse reachable)', tags: ['health'], response: { 200: status, 503: status } },
    },
    async (_request, reply) => {
      const clickhouse = await withTimeout(ch.ping(), 2000, () => false);
      return reply.code(clickhouse ? 200 : 503).send({ status: clickhouse ? 'ready' : 'not_ready', checks: { clickhouse } });
    },
  );
}
