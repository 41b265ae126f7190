import { buildConsistencyProof, buildInclusionProof, entryJson, readTreeHeads, storedChainRow, storedEntryHash, type TreeHead } from '@auditstream/integrity';
import type { FastifyInstance } from 'fastify';
import { badParameter, ProblemError } from '../problem.js';
import { READ_PROBLEMS } from '../schemas/common.js';
import { eventIdParamsSchema } from '../schemas/events.js';
import { consistencyProofSchema, consistencyQuerySchema, inclusionProofSchema, proofQuerySchema } from '../schemas/proofs.js';
import { resolveScope } from '../scope.js';
import { principalOf, type RouteContext } from './context.js';
import { findVisibleEvent } from './find-event.js';

interface ConsistencyQuery {
  partition: number;
  topic?: string;
  from_size: string;
  to_size?: string;
}

/** Merkle proofs (docs/integrity.md "Proofs"): checkable offline with only the public key (`auditstream proof verify`). */
export function proofRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.get<{ Params: { event_id: string }; Querystring: { tenant?: string } }>(
    '/v1/events/:event_id/proof',
    {
      config: { permission: 'events:read', problems: [...READ_PROBLEMS, 404] },
      schema: {
        operationId: 'getEventProof',
        summary: 'Inclusion proof of one event against the latest signed tree head',
        description:
          'The event\u2019s chain entry (RFC 8785 JSON, `v` its entry format), its Merkle audit path and the latest signed tree head of its partition. ' +
          '404 when the event does not exist or is not visible to the credential, or when no proof can be built (entries removed by retention); ' +
          '503 (Retry-After) when no signed tree head covers it yet (the next checkpoint will). Recorded as an audit.query event.',
        tags: ['integrity'],
        params: eventIdParamsSchema,
        querystring: proofQuerySchema,
        response: { 200: inclusionProofSchema },
      },
    },
    async (request) => {
      const { id, event, audit } = await findVisibleEvent(ctx, request);
      await ctx.audit.record(request, { kind: 'query', ...audit, resource: { type: 'audit_event_proof', id }, extra: { result_count: event ? 1 : 0 } });
      if (!event) throw new ProblemError('not_found', 'no event with this id is visible to this credential');
      const m = event.meta;
      if (!m.hash || !m.chain_seq || m.chain_seq === '0')
        throw new ProblemError('not_found', 'this event was stored without a hash chain entry: no proof exists');
      const [head] = await ctx.metrics.timeQuery('tree_head', () => readTreeHeads(ctx.ch, { topic: m.kafka_topic, partition: m.kafka_partition }));
      if (!head || BigInt(head.tree_size) < BigInt(m.chain_seq))
        throw new ProblemError('unavailable', 'no signed tree head covers this event yet: retry after the next checkpoint', {
          headers: { 'retry-after': '60' },
        });
      // The entry is the stored row as `auditstream verify` reads it (every column as stored), not the event as queries show it:
      // a changed column, even one queries hide (producer_seq without a producer_id), makes the proof fail.
      const row = await ctx.metrics.timeQuery('chain_row', () =>
        storedChainRow(ctx.ch, {
          topic: m.kafka_topic,
          partition: m.kafka_partition,
          offset: BigInt(m.kafka_offset),
          event_id: id,
          hash: m.hash,
          within: { tenant_id: event.event.tenant_id, occurred_at_us: BigInt(event.event.occurred_at) },
        }),
      );
      if (!row) throw new ProblemError('not_found', 'this event\u2019s row is no longer stored: no proof exists');
      // In the format the stored hash is of; a row that hashes in neither (changed) is shown in the default one, and its proof fails.
      const entry = entryJson(storedEntryHash(row.fields, m.hash).format ?? 2, row.fields);
      return ctx.metrics.timeQuery('proof', () =>
        buildInclusionProof(
          ctx.ch,
          {
            event_id: id,
            topic: m.kafka_topic,
            partition: m.kafka_partition,
            offset: m.kafka_offset,
            chain_seq: m.chain_seq,
            prev_hash: m.prev_hash,
            entry_hash: m.hash,
            entry,
          },
          head,
          { max_execution_time_s: ctx.config.export_timeout_s },
        ).catch(notBuildable),
      );
    },
  );

  app.get<{ Querystring: ConsistencyQuery }>(
    '/v1/integrity/consistency',
    {
      config: { permission: 'events:read', problems: [...READ_PROBLEMS, 404] },
      schema: {
        operationId: 'getConsistencyProof',
        summary: 'Consistency proof between two signed tree heads of a partition',
        description:
          'Proves that the partition\u2019s tree at to_size (default: the latest signed tree head) extends the one at from_size: nothing signed before was ' +
          'changed or removed. Both sizes must be those of signed tree heads (404 naming the parameter otherwise). Recorded as an audit.query event.',
        tags: ['integrity'],
        querystring: consistencyQuerySchema,
        response: { 200: consistencyProofSchema },
      },
    },
    async (request) => {
      const q = request.query;
      const scope = resolveScope(principalOf(request), undefined);
      await ctx.audit.record(request, {
        kind: 'query',
        scope,
        filter: { partition: String(q.partition), topic: q.topic, from_size: q.from_size, to_size: q.to_size },
        resource: { type: 'integrity_consistency', id: `${q.topic ?? ''}:${q.partition}` },
      });
      const at = async (param: 'from_size' | 'to_size', size: string | undefined): Promise<TreeHead> => {
        const heads = await readTreeHeads(ctx.ch, { partition: q.partition, ...(q.topic ? { topic: q.topic } : {}), ...(size ? { size: BigInt(size) } : {}) });
        if (new Set(heads.map((h) => h.topic)).size > 1) throw badParameter('topic', 'is required: several topics have tree heads for this partition');
        const h = heads[0];
        if (!h)
          throw new ProblemError('not_found', `parameter ${param}: no signed tree head of partition ${q.partition}${size ? ` has tree size ${size}` : ''}`);
        return h;
      };
      const to = await at('to_size', q.to_size);
      if (BigInt(q.from_size) > BigInt(to.tree_size)) throw badParameter('from_size', `must not exceed to_size (${to.tree_size})`);
      const from = await at('from_size', q.from_size);
      return ctx.metrics.timeQuery('proof', () =>
        buildConsistencyProof(ctx.ch, from, to, { max_execution_time_s: ctx.config.export_timeout_s }).catch(notBuildable),
      );
    },
  );
}

function notBuildable(err: unknown): never {
  if ((err as { code?: string }).code === 'INTEGRITY_TREE_INCOMPLETE')
    throw new ProblemError(
      'not_found',
      'no proof can be built: a chain entry of this partition is not stored (removed by retention or deleted) or its hash is not 32 bytes',
      { cause: err },
    );
  throw err;
}
