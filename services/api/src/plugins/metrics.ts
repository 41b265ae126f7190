import type { FastifyInstance } from 'fastify';
import { Counter, Histogram, type Registry } from 'prom-client';

/**
 * API metrics, registered on the registry passed in (one per process, shared with the storage
 * module's auditstream_clickhouse_* metrics). Labels are bounded: `route` is the route pattern
 * (`/v1/events/:event_id`, or `unmatched` for 404s), never the raw URL; `query` is a constant
 * name per query kind.
 */
export interface ApiMetrics {
  requests: Counter<'route' | 'method' | 'status_class'>;
  duration: Histogram<'route' | 'status_class'>;
  queryDuration: Histogram<'query'>;
  exportedRows: Counter<'format'>;
  selfAuditFailures: Counter<'action'>;
  selfAuditSuppressed: Counter;
  rateLimited: Counter<'kind'>;
  /** Times one ClickHouse query (the promise), labelled with its constant name. */
  timeQuery<T>(query: string, fn: () => Promise<T>): Promise<T>;
}

const byRegistry = new WeakMap<Registry, ApiMetrics>();

export function apiMetrics(registry: Registry): ApiMetrics {
  const existing = byRegistry.get(registry);
  if (existing) return existing;
  const queryDuration = new Histogram({
    name: 'auditstream_api_clickhouse_query_duration_seconds',
    help: 'Duration of the ClickHouse queries the API runs, by query kind (an export counts until its last row is read).',
    labelNames: ['query'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [registry],
  });
  const m: ApiMetrics = {
    requests: new Counter({
      name: 'auditstream_api_requests_total',
      help: 'API requests by route pattern, method and status class (2xx, 4xx, 5xx).',
      labelNames: ['route', 'method', 'status_class'],
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'auditstream_api_request_duration_seconds',
      help: 'API request duration (until the last byte of the answer) by route pattern and status class.',
      labelNames: ['route', 'status_class'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [registry],
    }),
    queryDuration,
    exportedRows: new Counter({
      name: 'auditstream_api_exported_rows_total',
      help: 'Events written by GET /v1/export, by format.',
      labelNames: ['format'],
      registers: [registry],
    }),
    selfAuditFailures: new Counter({
      name: 'auditstream_api_self_audit_failures_total',
      help: 'Self-audit events (audit.query, audit.export) the SDK could not publish; the request was refused with 503 when it read data.',
      labelNames: ['action'],
      registers: [registry],
    }),
    selfAuditSuppressed: new Counter({
      name: 'auditstream_api_self_audit_suppressed_total',
      help: 'Refused requests (400, 401, 403, 429 …) not recorded one by one because api.self_audit_refusals_per_s was used up; the next recorded refusal carries the count.',
      registers: [registry],
    }),
    rateLimited: new Counter({
      name: 'auditstream_api_rate_limited_total',
      help: 'Requests refused with 429, by bucket kind (principal or unauthenticated client IP).',
      labelNames: ['kind'],
      registers: [registry],
    }),
    async timeQuery(query, fn) {
      const end = queryDuration.startTimer({ query });
      try {
        return await fn();
      } finally {
        end();
      }
    },
  };
  byRegistry.set(registry, m);
  return m;
}

export function statusClass(status: number): string {
  return `${Math.floor(status / 100)}xx`;
}

/** Records every answer (route pattern, method, status class, duration) and serves /metrics. */
export function registerMetrics(app: FastifyInstance, registry: Registry, metrics: ApiMetrics): void {
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const sc = statusClass(reply.statusCode);
    metrics.requests.inc({ route, method: request.method, status_class: sc });
    metrics.duration.observe({ route, status_class: sc }, reply.elapsedTime / 1000);
  });
  app.get('/metrics', { config: { public: true }, schema: { hide: true } }, async (_request, reply) => {
    const body = await registry.metrics();
    return reply.type(registry.contentType).send(body);
  });
}
