import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { PROBLEM_DESCRIPTIONS, problemSchema } from './schemas/common.js';
import { type JsonSchema, schemaName } from './schemas/registry.js';

/**
 * The OpenAPI 3.1 document at /openapi.json, built by @fastify/swagger from the routes as
 * registered: the same JSON schemas fastify validates requests with and serializes answers with,
 * so the document cannot drift from what the server does. What this module adds to it:
 * - named schemas (schemas/registry.ts) become components, referenced by `$ref`;
 * - each route's `config.problems` become RFC 9457 problem responses (Retry-After on 429 and 503);
 * - `config.openapi.responses` / `.requestBody` document what a route streams or parses itself;
 * - security: none on `config.public` routes, an API key or an OIDC token on every other.
 * `registerOpenApi` must run before the routes are added: @fastify/swagger sees routes through
 * its onRoute hook.
 */
export interface OpenApiInfo {
  title: string;
  version: string;
  description: string;
}

interface RouteConfig {
  public?: boolean;
  problems?: readonly number[];
  openapi?: { responses?: Record<string, unknown>; requestBody?: unknown };
}

const TAGS = [
  { name: 'events', description: 'Search and read audit events.' },
  { name: 'stats', description: 'Aggregates over events.' },
  { name: 'export', description: 'Bulk export.' },
  { name: 'alerts', description: 'Alert history (admin).' },
  { name: 'integrity', description: 'Hash-chain verification (admin).' },
  { name: 'collector', description: 'Publishing events over HTTP (service keys).' },
  { name: 'health', description: 'Liveness and readiness.' },
];

const SECURITY_SCHEMES = {
  apiKey: {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'ask_<id>_<secret>',
    description: 'An API key created with `auditstream apikey create`, sent as Authorization: Bearer <key>.',
  },
  oidc: {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description: 'An OIDC access token from the configured issuer (api.oidc_*), when enabled; role and tenants come from its claims.',
  },
} as const;

const sorted = <T>(o: Record<string, T>): Record<string, T> => Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));

export function registerOpenApi(app: FastifyInstance, info: OpenApiInfo): void {
  const components: Record<string, JsonSchema> = {};
  const seen = new Set<object>();
  const requestBodies = new Map<string, unknown>();

  /** Deep copy, named schemas replaced by $ref (and collected into components). */
  function convert(schema: unknown, top = false): unknown {
    if (Array.isArray(schema)) return schema.map((s) => convert(s));
    if (!schema || typeof schema !== 'object') return schema;
    const name = schemaName(schema);
    if (name && !top) {
      if (!seen.has(schema)) {
        seen.add(schema);
        components[name] = convert(schema, true) as JsonSchema;
      }
      return { $ref: `#/components/schemas/${name}` };
    }
    return Object.fromEntries(Object.entries(schema as Record<string, unknown>).map(([k, v]) => [k, k === 'enum' || k === 'required' ? v : convert(v)]));
  }

  const problem = (status: number) => ({
    description: PROBLEM_DESCRIPTIONS[status] ?? 'Error.',
    content: { 'application/problem+json': { schema: convert(problemSchema) } },
    ...(status === 429 || status === 503 ? { headers: { 'Retry-After': { description: 'Seconds to wait before retrying.', type: 'integer' } } } : {}),
  });

  app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info,
      servers: [{ url: '/' }],
      tags: TAGS,
      components: { securitySchemes: SECURITY_SCHEMES },
    },
    transform: ({ schema, url, route }) => {
      const s = (schema ?? {}) as Record<string, unknown>;
      if (s.hide) return { schema, url };
      const config = (route.config ?? {}) as RouteConfig;
      const response: Record<string, unknown> = {};
      for (const [status, r] of Object.entries((s.response ?? {}) as Record<string, JsonSchema>))
        response[status] = {
          description: (r.description as string | undefined) ?? (status.startsWith('2') ? 'OK' : 'Error'),
          content: { 'application/json': { schema: convert(r) } },
        };
      for (const [status, r] of Object.entries(config.openapi?.responses ?? {})) response[status] = convert(r);
      for (const status of config.problems ?? []) response[String(status)] = problem(status);
      if (config.openapi?.requestBody && s.operationId) requestBodies.set(s.operationId as string, convert(config.openapi.requestBody));
      const out: Record<string, unknown> = {
        ...s,
        ...(s.params ? { params: convert(s.params) } : {}),
        ...(s.querystring ? { querystring: convert(s.querystring) } : {}),
        ...(s.body ? { body: convert(s.body) } : {}),
        response,
        security: config.public ? [] : [{ apiKey: [] }, { oidc: [] }],
      };
      return { schema: out as never, url };
    },
    // Runs after every route's transform: the components are complete by then.
    transformObject: (doc) => {
      const o = (doc as { openapiObject: Record<string, unknown> }).openapiObject as {
        paths: Record<string, Record<string, { operationId?: string; requestBody?: unknown }>>;
        components: Record<string, unknown>;
      };
      for (const ops of Object.values(o.paths))
        for (const op of Object.values(ops)) {
          const body = op.operationId ? requestBodies.get(op.operationId) : undefined;
          if (body) op.requestBody = body;
        }
      return { ...o, paths: sorted(o.paths), components: { ...o.components, schemas: sorted(components) } };
    },
  });
}
