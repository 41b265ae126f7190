import type { EventVerification } from '@auditstream/integrity';
import type { FastifyInstance } from 'fastify';
import { ProblemError } from '../problem.js';
import { READ_PROBLEMS } from '../schemas/common.js';
import { eventVerificationSchema } from '../schemas/event-verify.js';
import { eventIdParamsSchema, getEventQuerySchema } from '../schemas/events.js';
import type { RouteContext } from './context.js';
import { findVisibleEvent } from './find-event.js';

/**
 * GET /v1/events/{event_id}/verify: the single-event check behind the console's "verified" mark.
 * The event is looked up within the caller's scope first (404 outside it, like GET
 * /v1/events/{id}); the proof itself is @auditstream/integrity's verifyEvent over its partition.
 */
export function eventVerifyRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.get<{ Params: { event_id: string }; Querystring: { tenant?: string } }>(
    '/v1/events/:event_id/verify',
    {
      config: { permission: 'events:read', problems: [...READ_PROBLEMS, 404, 501] },
      schema: {
        operationId: 'verifyEvent',
        summary: 'Verify one event against its hash chain and signed checkpoint',
        description:
          'Recomputes the event\u2019s entry hash from the stored row, checks its links to the neighbouring entries, and proves the hash is ' +
          'in the latest signed tree head (an inclusion proof; span is then the event alone); when that does not check out or no tree head ' +
          'covers it, verifies the chain from the event through the covering checkpoint (the first at or after its offset). status is verified, tampered ' +
          '(reason says why), unverified_yet (no checkpoint covers it yet) or unchained. 404 when the event is not visible to the credential; ' +
          '501 when no verifier (integrity.public_key_files) is configured. Recorded as an audit.query event.',
        tags: ['integrity'],
        params: eventIdParamsSchema,
        querystring: getEventQuerySchema,
        response: { 200: eventVerificationSchema },
      },
    },
    async (request) => {
      const { id, event, audit } = await findVisibleEvent(ctx, request);
      const base = { kind: 'query' as const, ...audit, resource: { type: 'audit_event_verification', id } };
      const verifier = ctx.verify?.verifyEvent;
      if (!event || !verifier) {
        await ctx.audit.record(request, {
          ...base,
          ...(event ? { outcome: 'failure', reason: 'not_configured' } : {}),
          extra: { result_count: event ? 1 : 0 },
        });
        if (!event) throw new ProblemError('not_found', 'no event with this id is visible to this credential');
        throw new ProblemError('not_configured', 'event verification is not configured in this deployment: set integrity.public_key_files (see docs/api.md)');
      }
      const abort = new AbortController();
      request.raw.once('close', () => abort.abort());
      const m = event.meta;
      const result = await ctx.metrics.timeQuery('verify_event', () =>
        verifier({ topic: m.kafka_topic, partition: m.kafka_partition, offset: BigInt(m.kafka_offset), event_id: id, signal: abort.signal }),
      );
      await ctx.audit.record(request, { ...base, extra: { result_count: 1, verification: result.status } });
      return present(result, event.event.event_id, event.event.tenant_id);
    },
  );
}

/** The answer: other rows of the span are named by offset and kind only (they may be other tenants'). */
function present(r: EventVerification, eventId: string, tenantId: string) {
  return {
    event_id: eventId,
    tenant_id: tenantId,
    status: r.status,
    reason: r.reason,
    checked_at: new Date().toISOString(),
    chain: r.chain,
    link: r.link,
    checkpoint: r.checkpoint
      ? {
          last_offset: r.checkpoint.last_offset,
          chain_seq: r.checkpoint.chain_seq,
          chain_head: r.checkpoint.chain_head,
          created_at: new Date(r.checkpoint.created_at_s * 1000).toISOString(),
          key_id: r.checkpoint.key_id,
          matches: r.checkpoint.matches,
        }
      : null,
    span: r.span,
    findings: r.findings.map((f) => ({
      kind: f.kind,
      severity: f.severity,
      ...(f.offset !== undefined ? { offset: f.offset } : {}),
      detail: f.detail,
      this_event: f.offset === r.chain.offset,
    })),
  };
}
