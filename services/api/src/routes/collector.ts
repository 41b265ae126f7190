import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import { ProblemError } from '../problem.js';
import { collectorAnswerSchema, collectorRequestBody } from '../schemas/collector.js';
import { type CollectorBody, collectorFormat, parseCollectorBody, readLimited } from './collector-body.js';
import { checkTenants, collectorMetrics, type EventPublisher, publishBatch } from './collector-publish.js';
import { principalOf, type RouteContext } from './context.js';

/**
 * The HTTP collector: POST /v1/events publishes audit events through the SDK for services that
 * cannot run it (other languages, edge functions). Service keys only, scoped to their tenants.
 * It answers once Kafka acknowledged (or refused) every event, with one result per event.
 *
 * Registered in a plugin scope of its own: its body parser (JSON array or NDJSON, its own size
 * and count limits, 415 for anything else) must not change how the other routes read bodies.
 */
export function collectorRoutes(app: FastifyInstance, ctx: RouteContext, deps: { publisher: EventPublisher | undefined; registry: Registry }): void {
  const metrics = collectorMetrics(deps.registry);
  const limits = { maxBytes: ctx.config.collector_max_body_bytes, maxEvents: ctx.config.collector_max_events };
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    // Every media type reaches this parser, which refuses the unsupported ones with a problem naming the accepted ones.
    scope.addContentTypeParser('*', async (request: FastifyRequest, payload: IncomingMessage) => {
      const format = collectorFormat(request.headers['content-type']);
      const bytes = await readLimited(payload, request.headers['content-length'], limits.maxBytes);
      return parseCollectorBody(bytes, format, limits);
    });

    scope.post(
      '/v1/events',
      {
        config: { permission: 'events:publish', problems: [400, 401, 403, 413, 415, 429, 501], openapi: { requestBody: collectorRequestBody } },
        schema: {
          operationId: 'publishEvents',
          summary: 'Publish audit events (the HTTP collector)',
          description:
            'Publishes a batch of audit events through the SDK, for producers that do not run it (docs/producers.md). Service keys only; ' +
            'every event must name one of the key\u2019s tenants (else 403 and nothing is published). Each event is validated by the same ' +
            'validator as the SDK and ingest, then published; the answer comes once Kafka acknowledged or refused each event, with one ' +
            'result per event in input order (a receipt, or the field and reason). Retrying with the same event_id is safe: the store ' +
            'keeps one row per event_id. Events without event_id or occurred_at get them from the collector, returned in their result: ' +
            're-send the event with them to retry. See docs/api.md#collector.',
          tags: ['collector'],
          response: { 200: collectorAnswerSchema },
        },
      },
      async (request) => {
        const principal = principalOf(request);
        if (!deps.publisher) throw new ProblemError('not_configured', 'the collector is not configured in this deployment: no producer is wired into the API');
        const body = request.body as CollectorBody | undefined;
        if (!body) {
          collectorFormat(request.headers['content-type']); // no Content-Type: 415
          throw new ProblemError('invalid_parameters', 'body holds no event', { errors: [{ parameter: 'body', in: 'body', message: 'holds no event' }] });
        }
        checkTenants(principal, body.events);
        metrics.received.inc({ format: body.format }, body.events.length);
        return publishBatch(deps.publisher, body.events, metrics);
      },
    );
  });
}
