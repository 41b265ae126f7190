import { isIP } from 'node:net';
import type { ClickHouse } from '@auditstream/clickhouse';
import { isAuditstreamError, uuidv7 } from '@auditstream/core';
import type { FastifyInstance } from 'fastify';
import { badParameter, ProblemError } from '../problem.js';
import { findSavedSearch, listSavedSearches, type SavedSearchRow, writeSavedSearch } from '../queries/saved-searches.js';
import {
  savedSearchIdParamsSchema,
  savedSearchListQuerySchema,
  savedSearchListSchema,
  savedSearchSchema,
  saveSearchBodySchema,
} from '../schemas/saved-searches.js';
import { type Principal, resolveScope } from '../scope.js';
import { principalOf, type RouteContext } from './context.js';

type SavedQuery = Record<string, string>;
const WRITE_PROBLEMS = [400, 401, 403, 404, 413, 415, 429, 501, 503] as const;

/** Saved searches belong to one credential: its kind and id (never shared, even with the same role). */
const owner = (p: Principal) => `${p.kind}:${p.id}`;

function present(r: SavedSearchRow) {
  return {
    id: r.search_id,
    name: r.name,
    tenant: r.tenant_id === '' ? null : r.tenant_id,
    query: JSON.parse(r.query) as SavedQuery,
    created_at: new Date(r.created_at_ms).toISOString(),
    updated_at: new Date(r.version_ms).toISOString(),
  };
}

/** The checks JSON Schema cannot express, as for a search (routes/filters.ts), on the body's query. */
function checkQuery(q: SavedQuery): void {
  if (q.range !== undefined && (q.from !== undefined || q.to !== undefined)) throw badParameter('query.range', 'cannot be combined with from and to', 'body');
  if (q.action !== undefined && q.action_prefix !== undefined) throw badParameter('query.action_prefix', 'cannot be combined with action', 'body');
  if (q.source_ip !== undefined && isIP(q.source_ip) === 0) throw badParameter('query.source_ip', 'must be an IPv4 or IPv6 address', 'body');
  for (const k of ['from', 'to'] as const)
    if (q[k] !== undefined && Number.isNaN(Date.parse(q[k] as string))) throw badParameter(`query.${k}`, 'must be a real date and time', 'body');
}

/**
 * GET/POST/DELETE /v1/saved-searches: the console's saved searches, per credential and tenant
 * (migration 010 says how they are stored). Writes go through `writer`: the API's own ClickHouse
 * account is read-only in the secure stack (docs/api.md#saved-searches).
 */
export function savedSearchRoutes(app: FastifyInstance, ctx: RouteContext, deps: { writer: ClickHouse }): void {
  const write = async (row: SavedSearchRow) => {
    try {
      await writeSavedSearch(deps.writer, row);
    } catch (err) {
      if (isAuditstreamError(err) && err.code === 'CLICKHOUSE_DENIED')
        throw new ProblemError(
          'not_configured',
          'saved searches need a ClickHouse account that may insert into saved_searches: set api.saved_searches_username (see docs/api.md#saved-searches)',
          { cause: err },
        );
      throw err;
    }
  };

  app.get<{ Querystring: { tenant?: string } }>(
    '/v1/saved-searches',
    {
      config: { permission: 'searches:manage', problems: [400, 401, 403, 429, 503, 504] },
      schema: {
        operationId: 'listSavedSearches',
        summary: 'The credential\u2019s saved searches',
        description:
          'The searches this credential saved, by name: of the given tenant, or of every tenant of the credential plus those saved without a tenant. ' +
          'Recorded as an audit.query event.',
        tags: ['saved searches'],
        querystring: savedSearchListQuerySchema,
        response: { 200: savedSearchListSchema },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const scope = resolveScope(principal, request.query.tenant);
      const rows = await ctx.metrics.timeQuery('saved_searches', () =>
        listSavedSearches(ctx.ch, owner(principal), request.query.tenant !== undefined ? { tenant: request.query.tenant } : { scope }),
      );
      await ctx.audit.record(request, {
        kind: 'query',
        scope,
        filter: { tenant: request.query.tenant },
        resource: { type: 'saved_searches', id: 'list' },
        extra: { result_count: rows.length },
      });
      return { data: rows.map(present) };
    },
  );

  app.post<{ Body: { name: string; query: SavedQuery } }>(
    '/v1/saved-searches',
    {
      config: { permission: 'searches:manage', problems: WRITE_PROBLEMS },
      schema: {
        operationId: 'saveSearch',
        summary: 'Save a search (or replace the one of the same name and tenant)',
        description:
          'Stores name + query for this credential; query.tenant (optional) must be one of its tenants. At most api.saved_searches_max_per_principal per tenant. ' +
          'Answers 201 with the saved search. Recorded as an audit.query event.',
        tags: ['saved searches'],
        body: saveSearchBodySchema,
        response: { 201: savedSearchSchema },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const { name, query } = request.body;
      checkQuery(query);
      const tenant = query.tenant;
      const scope = resolveScope(principal, tenant);
      const mine = await listSavedSearches(ctx.ch, owner(principal), { tenant: tenant ?? '' });
      const same = mine.find((s) => s.name === name);
      if (!same && mine.length >= ctx.config.saved_searches_max_per_principal)
        throw badParameter(
          'name',
          `this credential already keeps ${mine.length} saved searches for this tenant (api.saved_searches_max_per_principal)`,
          'body',
        );
      const now = Date.now();
      const row: SavedSearchRow = {
        principal: owner(principal),
        tenant_id: tenant ?? '',
        search_id: same?.search_id ?? uuidv7(now),
        name,
        query: JSON.stringify(query),
        created_at_ms: same?.created_at_ms ?? now,
        // Strictly after the row it replaces, even within one millisecond (FINAL keeps the highest).
        version_ms: Math.max(now, (same?.version_ms ?? 0) + 1),
        deleted: 0,
      };
      await ctx.audit.record(request, {
        kind: 'query',
        scope,
        filter: { tenant },
        resource: { type: 'saved_search', id: row.search_id },
        extra: { operation: same ? 'replace' : 'create' },
      });
      await write(row);
      return reply.code(201).send(present(row));
    },
  );

  app.delete<{ Params: { search_id: string } }>(
    '/v1/saved-searches/:search_id',
    {
      config: { permission: 'searches:manage', problems: WRITE_PROBLEMS },
      schema: {
        operationId: 'deleteSavedSearch',
        summary: 'Delete a saved search',
        description: 'Deletes one of this credential\u2019s saved searches (204); 404 when it has none with this id. Recorded as an audit.query event.',
        tags: ['saved searches'],
        params: savedSearchIdParamsSchema,
        response: { 204: { type: 'null', description: 'Deleted.' } },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const found = await findSavedSearch(ctx.ch, owner(principal), request.params.search_id);
      // A search of a tenant the credential no longer has is out of reach, like any other read.
      const visible = found && found.deleted === 0 && (found.tenant_id === '' || inScope(principal, found.tenant_id));
      await ctx.audit.record(request, {
        kind: 'query',
        scope: visible ? resolveScope(principal, found.tenant_id === '' ? undefined : found.tenant_id) : undefined,
        resource: { type: 'saved_search', id: request.params.search_id },
        extra: { operation: 'delete', result_count: visible ? 1 : 0 },
      });
      if (!found || !visible) throw new ProblemError('not_found', 'this credential has no saved search with this id');
      await write({ ...found, deleted: 1, version_ms: Math.max(Date.now(), found.version_ms + 1) });
      return reply.code(204).send();
    },
  );
}

function inScope(principal: Principal, tenant: string): boolean {
  try {
    resolveScope(principal, tenant);
    return true;
  } catch {
    return false;
  }
}
