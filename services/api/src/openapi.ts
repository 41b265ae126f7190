import type { RouteOptions } from 'fastify';
import { PROBLEM_DESCRIPTIONS, problemSchema } from './schemas/common.js';
import { type JsonSchema, schemaName } from './schemas/registry.js';

/**
 * The OpenAPI 3.1 document, generated from the routes as registered: the same JSON schemas
 * fastify validates requests with and serializes answers with, so the document cannot drift from
 * what the server does. Named schemas (schemas/registry.ts) become components.
 */
export interface OpenApiInfo {
  title: string;
  version: string;
  description: string;
}

type Route = Pick<RouteOptions, 'method' | 'url' | 'schema' | 'config'>;

export function buildOpenApi(routes: readonly Route[], info: OpenApiInfo): Record<string, unknown> {
  const components: Record<string, JsonSchema> = {};
  const seen = new Set<object>();

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

  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const schema = (route.schema ?? {}) as Record<string, unknown>;
    if (schema.hide) continue;
    const methods = (Array.isArray(route.method) ? route.method : [route.method]).map((m) => String(m).toLowerCase()).filter((m) => m !== 'head');
    const path = route.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const config = (route.config ?? {}) as { public?: boolean; problems?: readonly number[]; openapi?: Record<string, unknown> };
    const parameters: unknown[] = [];
    for (const [where, key] of [
      ['path', 'params'],
      ['query', 'querystring'],
    ] as const) {
      const s = schema[key] as { properties?: Record<string, JsonSchema>; required?: string[] } | undefined;
      for (const [name, prop] of Object.entries(s?.properties ?? {})) {
        const { description, ...rest } = prop as JsonSchema & { description?: string };
        parameters.push({
          name,
          in: where,
          required: where === 'path' || (s?.required ?? []).includes(name),
          ...(description ? { description } : {}),
          schema: convert(rest),
        });
      }
    }
    const responses: Record<string, unknown> = {};
    const declared = (schema.response ?? {}) as Record<string, JsonSchema>;
    for (const [status, s] of Object.entries(declared)) {
      responses[status] = {
        description: (s.description as string | undefined) ?? (status.startsWith('2') ? 'OK' : 'Error'),
        content: { 'application/json': { schema: convert(s) } },
      };
    }
    Object.assign(responses, (config.openapi?.responses as Record<string, unknown> | undefined) ?? {});
    for (const status of config.problems ?? []) {
      responses[String(status)] = {
        description: PROBLEM_DESCRIPTIONS[status] ?? 'Error.',
        content: { 'application/problem+json': { schema: convert(problemSchema) } },
        ...(status === 429 || status === 503
          ? { headers: { 'Retry-After': { description: 'Seconds to wait before retrying.', schema: { type: 'integer' } } } }
          : {}),
      };
    }
    if (Object.keys(responses).length === 0) responses.default = { description: 'See the operation description.' };
    const operation: Record<string, unknown> = {
      ...(schema.operationId ? { operationId: schema.operationId } : {}),
      ...(schema.summary ? { summary: schema.summary } : {}),
      ...(schema.description ? { description: schema.description } : {}),
      ...(schema.tags ? { tags: schema.tags } : {}),
      ...(parameters.length ? { parameters } : {}),
      ...(schema.body ? { requestBody: { required: false, content: { 'application/json': { schema: convert(schema.body) } } } } : {}),
      // A route that parses its own body (the collector) documents it in config.openapi.requestBody.
      ...(config.openapi?.requestBody ? { requestBody: convert(config.openapi.requestBody) } : {}),
      responses,
      security: config.public ? [] : [{ apiKey: [] }, { oidc: [] }],
    };
    paths[path] ??= {};
    for (const m of methods) (paths[path] as Record<string, unknown>)[m] = operation;
  }

  return {
    openapi: '3.1.0',
    info,
    servers: [{ url: '/' }],
    tags: [
      { name: 'events', description: 'Search and read audit events.' },
      { name: 'stats', description: 'Aggregates over events.' },
      { name: 'export', description: 'Bulk export.' },
      { name: 'alerts', description: 'Alert history (admin).' },
      { name: 'integrity', description: 'Hash-chain verification (admin).' },
      { name: 'collector', description: 'Publishing events over HTTP (service keys).' },
      { name: 'health', description: 'Liveness and readiness.' },
    ],
    paths: Object.fromEntries(Object.entries(paths).sort(([a], [b]) => a.localeCompare(b))),
    components: {
      schemas: Object.fromEntries(Object.entries(components).sort(([a], [b]) => a.localeCompare(b))),
      securitySchemes: {
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
      },
    },
  };
}
