import { isIP } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { badParameter } from '../problem.js';
import { mintViewerTokenBodySchema, viewerTokenSchema } from '../schemas/viewer-tokens.js';
import { type FixedFilters, resolveScope } from '../scope.js';
import type { ViewerTokenCodec } from '../viewer-tokens.js';
import { principalOf, type RouteContext } from './context.js';

interface MintBody {
  tenant: string;
  ttl_s?: number;
  filters?: FixedFilters;
}

/** POST /v1/viewer-tokens: mints the embeddable viewer's token (viewer-tokens.ts says what it is). */
export function viewerTokenRoutes(app: FastifyInstance, ctx: RouteContext, tokens: ViewerTokenCodec): void {
  app.post<{ Body: MintBody }>(
    '/v1/viewer-tokens',
    {
      config: { permission: 'viewer_tokens:mint', problems: [400, 401, 403, 413, 415, 429, 503] },
      schema: {
        operationId: 'mintViewerToken',
        summary: 'Mint a short-lived read-only viewer token for one tenant',
        description:
          'Admin or service credentials. The token reads (search, event, verify, stats) one tenant, narrowed to the fixed filters, until ' +
          'it expires (ttl_s \u2264 api.viewer_token_max_ttl_s); it may not export, list alerts, verify ranges, mint tokens or save searches. ' +
          'It cannot be revoked. Recorded as an audit.query event (resource viewer_token, its id).',
        tags: ['viewer'],
        body: mintViewerTokenBodySchema,
        response: { 201: viewerTokenSchema },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const body = request.body;
      // A service key mints for its own tenants only; the same 403 as a read outside them.
      const scope = resolveScope(principal, body.tenant);
      const max = ctx.config.viewer_token_max_ttl_s;
      const ttlS = body.ttl_s ?? Math.min(ctx.config.viewer_token_default_ttl_s, max);
      if (ttlS > max) throw badParameter('ttl_s', `must be at most ${max} (api.viewer_token_max_ttl_s)`, 'body');
      const filters = body.filters ?? {};
      if (filters.action !== undefined && filters.action_prefix !== undefined)
        throw badParameter('filters.action_prefix', 'cannot be combined with action', 'body');
      if (filters.source_ip !== undefined && isIP(filters.source_ip) === 0) throw badParameter('filters.source_ip', 'must be an IPv4 or IPv6 address', 'body');
      const { token, claims } = tokens.mint({ tenant: body.tenant, filters, ttlS, by: principal.id });
      await ctx.audit.record(request, {
        kind: 'query',
        scope,
        filter: { tenant: body.tenant, ttl_s: ttlS, ...Object.fromEntries(Object.entries(filters).map(([k, v]) => [`fixed_${k}`, v])) },
        resource: { type: 'viewer_token', id: claims.id },
        extra: { operation: 'mint', expires_at: new Date(claims.exp * 1000).toISOString() },
      });
      return reply.code(201).send({
        token,
        token_id: claims.id,
        tenant: claims.tenant,
        filters: claims.filters,
        issued_at: new Date(claims.iat * 1000).toISOString(),
        expires_at: new Date(claims.exp * 1000).toISOString(),
        ttl_s: ttlS,
      });
    },
  );
}
