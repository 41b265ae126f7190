import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import type { ClickHouse } from '@auditstream/clickhouse';
import { readConfigFile } from '@auditstream/config';
import { uuidv7 } from '@auditstream/core';
import { clickhouseIntegrityStore, loadSigningKey, loadSigningKeyFile, type SigningKey } from '@auditstream/integrity';
import type { Logger } from '@auditstream/observability';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Registry } from 'prom-client';
import { type ApiKeyVerifier, createApiKeyVerifier } from './api-keys.js';
import type { ApiConfig } from './config.js';
import { createCursorCodec } from './cursor.js';
import { createManifestStore, type ManifestSigning } from './export-manifests.js';
import type { IntegrityVerifier } from './integrity.js';
import { createJwtVerifier, type JwtVerifier } from './jwt.js';
import { registerOpenApi } from './openapi.js';
import { createPipelineHealth, type PipelineHealthReader } from './pipeline-health.js';
import { createSelfAuditor, type RecordEvent } from './plugins/audit-self.js';
import { registerAuth } from './plugins/auth.js';
import { registerProblems } from './plugins/error-handler.js';
import { clientErrorHandler, frameworkErrors, registerHttpRefusals } from './plugins/http-errors.js';
import { apiMetrics, registerMetrics } from './plugins/metrics.js';
import { createRateLimitGate } from './plugins/rate-limit.js';
import { createFieldRevealer, type RevealDeps } from './reveal.js';
import { alertRoutes } from './routes/alerts.js';
import { collectorRoutes } from './routes/collector.js';
import type { EventPublisher } from './routes/collector-publish.js';
import { consoleRoutes } from './routes/console.js';
import type { RouteContext } from './routes/context.js';
import { eventVerifyRoutes } from './routes/event-verify.js';
import { eventRoutes } from './routes/events.js';
import { exportRoutes } from './routes/export.js';
import { exportManifestRoutes } from './routes/export-manifest.js';
import { freshnessRoutes } from './routes/freshness.js';
import { healthRoutes } from './routes/health.js';
import { integrityRoutes } from './routes/integrity.js';
import { pipelineHealthRoutes } from './routes/pipeline-health.js';
import { proofRoutes } from './routes/proofs.js';
import { savedSearchRoutes } from './routes/saved-searches.js';
import { statsRoutes } from './routes/stats.js';
import { viewerTokenRoutes } from './routes/viewer-tokens.js';
import { parseQueryString } from './text.js';
import { createViewerTokenCodec } from './viewer-tokens.js';

export interface ApiDeps {
  /** The api config section (defaults filled: apiDefaults() in tests). */
  config: ApiConfig;
  /** The storage module's handle (createClickHouse), on the reader account. */
  clickhouse: ClickHouse;
  logger: Logger;
  /** The process's registry (createMetricsRegistry); /metrics serves it. */
  metrics: Registry;
  /** Publishes a self-audit event and resolves once Kafka acknowledged it (the SDK's publish). */
  recordEvent: RecordEvent;
  /** The process's SDK producer, for the collector (POST /v1/events); absent → that endpoint answers 501. */
  publisher?: EventPublisher;
  /** Integrity verifier; absent → POST /v1/integrity/verify answers 501. */
  verify?: IntegrityVerifier;
  /** Overrides for tests: a key verifier, a JWT verifier, the rate limiter's clock. */
  apiKeys?: ApiKeyVerifier;
  jwt?: JwtVerifier;
  now?: () => number;
  /** Cursor signing key; default from config (cursor_secret[_file] resolved by the caller), else random. */
  cursorSecret?: string;
  /**
   * GET /v1/health/pipeline's sources (main.ts: Kafka, the ingest and alerting /metrics URLs); default:
   * no Kafka, api.pipeline_*_metrics_url or the default ports on 127.0.0.1.
   */
  pipeline?: PipelineHealthReader;
  /** The ClickHouse handle saved searches are written with (api.saved_searches_username); default `clickhouse`. */
  savedSearchWriter?: ClickHouse;
  /** Viewer token signing key; default api.viewer_token_secret (the caller resolves _file), else random per process. */
  viewerTokenSecret?: string;
  /**
   * Encrypted personal fields (docs/field-encryption.md): the subject key store (with the master
   * key) decrypts for PII-permitted principals and recognises erased subjects; without it every
   * encrypted value is masked. Default mask "***", erased marker "[erased]".
   */
  fields?: Partial<Omit<RevealDeps, 'logger'>>;
  /** The key export manifests are signed with; default from api.export_manifest_signing_key[_file]; none → exports carry no manifest. */
  manifestKey?: SigningKey;
}

export const API_VERSION = '1.0.0';

/** The fastify instance with every route, hook and plugin; not listening (tests use inject()). */
export function buildApi(deps: ApiDeps): FastifyInstance {
  const { config } = deps;
  const logger = deps.logger.child({ component: 'api' });
  const https = apiTlsOptions(config);
  // Host is checked by the problem plugin (Node's own refusal is a bare 400).
  const app = Fastify({
    ...(https ? { https: { ...https, requireHostHeader: false } } : { http: { requireHostHeader: false } }),
    clientErrorHandler: clientErrorHandler(logger),
    frameworkErrors,
    loggerInstance: logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: () => uuidv7(),
    requestIdHeader: false,
    bodyLimit: config.body_limit_bytes,
    trustProxy: config.trust_proxy,
    // Requests during close get a 503 problem from registerHttpRefusals instead of fastify's own body.
    return503OnClosing: false,
    // HEAD would run a GET handler (and its query and audit record) for nothing.
    exposeHeadRoutes: false,
    routerOptions: { maxParamLength: 128, ignoreTrailingSlash: false, querystringParser: parseQueryString },
    ajv: {
      // Unknown parameters are errors (never silently dropped), every error is reported, and
      // query strings are coerced to the declared scalar types (a repeated scalar stays an error).
      // Integers are parsed before validation (plugins/params.ts); NaN and Infinity are never numbers.
      customOptions: { removeAdditional: false, allErrors: true, coerceTypes: true, useDefaults: false, strictNumbers: true },
    },
  });

  // Bodies are JSON only: text/plain would reach the schema as a string (400) instead of 415.
  app.removeContentTypeParser('text/plain');
  registerHttpRefusals(app);
  const metrics = apiMetrics(deps.metrics);
  registerOpenApi(app, {
    title: 'auditstream query API',
    version: API_VERSION,
    description:
      'Search, aggregate, export and verify the audit log. Every read is itself audited (audit.query / audit.export). ' +
      'Errors are RFC 9457 problem documents (application/problem+json). See docs/api.md.',
  });

  const audit = createSelfAuditor({
    recordEvent: deps.recordEvent,
    service: config.self_audit_service,
    defaultTenant: config.self_audit_tenant,
    logger,
    metrics,
    host: hostname(),
    refusalsPerS: config.self_audit_refusals_per_s,
    ...(deps.now ? { now: deps.now } : {}),
  });
  const limits = createRateLimitGate(
    {
      ratePerS: config.rate_limit_per_s,
      burst: config.rate_limit_burst,
      maxKeys: config.rate_limit_max_keys,
      unauthenticatedPerS: config.unauthenticated_rate_limit_per_s,
      ...(deps.now ? { now: deps.now } : {}),
    },
    metrics,
  );
  // All three OIDC keys or none: the config schema refuses half a setup.
  const apiKeys = deps.apiKeys ?? createApiKeyVerifier(deps.clickhouse, { ttlMs: config.api_key_cache_ttl_ms });
  const jwt =
    deps.jwt ??
    (config.oidc_jwks_url && config.oidc_issuer && config.oidc_audience
      ? createJwtVerifier({
          jwksUrl: config.oidc_jwks_url,
          issuer: config.oidc_issuer,
          audience: config.oidc_audience,
          roleClaim: config.oidc_role_claim,
          tenantsClaim: config.oidc_tenants_claim,
          piiClaim: config.oidc_pii_claim,
          clockToleranceS: config.oidc_clock_tolerance_s,
        })
      : undefined);

  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
    reply.header('x-content-type-options', 'nosniff');
    // Audit data must not linger in shared caches.
    if (request.url.startsWith('/v1/')) reply.header('cache-control', 'no-store');
  });
  app.addHook('onResponse', async (request, reply) => {
    if (reply.statusCode >= 500)
      logger.warn({ route: request.routeOptions.url ?? 'unmatched', status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request failed');
    else logger.debug({ route: request.routeOptions.url ?? 'unmatched', status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
  });

  // Refused requests are on record too (rate-limited, best effort: nothing was served).
  registerProblems(app, logger, (request, refusal) => audit.recordRefusal(request, refusal));
  registerMetrics(app, deps.metrics, metrics);
  const viewerTokens = createViewerTokenCodec(deps.viewerTokenSecret ?? config.viewer_token_secret, deps.now);
  registerAuth(app, { apiKeys, jwt, viewerTokens, limits });

  const ctx: RouteContext = {
    config,
    ch: deps.clickhouse,
    logger,
    metrics,
    cursors: createCursorCodec(deps.cursorSecret ?? config.cursor_secret),
    audit,
    verify: deps.verify,
    querySettings: { max_execution_time: config.query_timeout_s },
    manifests: manifestSigning(deps),
    fields: createFieldRevealer({
      store: deps.fields?.store,
      mask: deps.fields?.mask ?? '***',
      erased: deps.fields?.erased ?? '[erased]',
      logger,
    }),
  };
  // The routes are added as a plugin, after @fastify/swagger's, so its onRoute hook sees them;
  // skip-override keeps them in the root context, with the hooks above.
  const addRoutes = async (app: FastifyInstance) => {
    healthRoutes(app, deps.clickhouse);
    eventRoutes(app, ctx);
    eventVerifyRoutes(app, ctx);
    statsRoutes(app, ctx);
    freshnessRoutes(app, ctx);
    exportRoutes(app, ctx);
    exportManifestRoutes(app, ctx);
    alertRoutes(app, ctx);
    integrityRoutes(app, ctx);
    proofRoutes(app, ctx);
    viewerTokenRoutes(app, ctx, viewerTokens);
    savedSearchRoutes(app, ctx, { writer: deps.savedSearchWriter ?? deps.clickhouse });
    pipelineHealthRoutes(
      app,
      ctx,
      deps.pipeline ??
        createPipelineHealth({
          eventsTopic: 'audit.events',
          ingestGroupId: 'auditstream-ingest',
          ingestMetricsUrl: config.pipeline_ingest_metrics_url ?? 'http://127.0.0.1:9464/metrics',
          alertingMetricsUrl: config.pipeline_alerting_metrics_url ?? 'http://127.0.0.1:9465/metrics',
          timeoutMs: config.pipeline_scrape_timeout_ms,
        }),
    );
    collectorRoutes(app, ctx, { publisher: deps.publisher, registry: deps.metrics });
    consoleRoutes(app, ctx);

    let spec: string | undefined;
    app.get('/openapi.json', { config: { public: true }, schema: { hide: true } }, async (_request, reply) => {
      spec ??= JSON.stringify(app.swagger());
      return reply.type('application/json').send(spec);
    });
  };
  Object.assign(addRoutes, { [Symbol.for('skip-override')]: true });
  app.register(addRoutes);
  return app;
}

/** The export manifest key (api.export_manifest_signing_key_file, else _key) and where manifests are kept. */
function manifestSigning(deps: ApiDeps): ManifestSigning | undefined {
  const c = deps.config;
  const key =
    deps.manifestKey ??
    (c.export_manifest_signing_key_file
      ? loadSigningKeyFile(c.export_manifest_signing_key_file)
      : c.export_manifest_signing_key
        ? loadSigningKey(c.export_manifest_signing_key, 'api.export_manifest_signing_key')
        : undefined);
  if (!key) return undefined;
  const checkpoints = clickhouseIntegrityStore(deps.clickhouse);
  return {
    key,
    store: createManifestStore({ ttlMs: c.export_manifest_ttl_s * 1000, maxEntries: c.export_manifest_max_entries, ...(deps.now ? { now: deps.now } : {}) }),
    lastCheckpoint: (topic, partition) => checkpoints.lastCheckpoint(topic, partition),
  };
}

export interface Api {
  app: FastifyInstance;
  /** Listens on api.host:api.port; resolves with the bound address. */
  start(): Promise<{ url: string; port: number }>;
  /** Stops accepting, lets in-flight requests finish (up to api.shutdown_timeout_ms), closes the server. */
  stop(): Promise<void>;
}

/**
 * HTTPS when api.tls_cert_file and api.tls_key_file are both set (TLS 1.2+), else undefined (plain
 * HTTP, for a TLS-terminating proxy in front). One without the other, or an unreadable file, is an
 * error naming the key; the key file's content never appears in it.
 */
export function apiTlsOptions(config: Pick<ApiConfig, 'tls_cert_file' | 'tls_key_file'>): { cert: Buffer; key: Buffer; minVersion: 'TLSv1.2' } | undefined {
  const { tls_cert_file: certFile, tls_key_file: keyFile } = config;
  // The config schema only lets both or neither through.
  if (!certFile || !keyFile) return undefined;
  return { cert: readConfigFile(certFile, 'api.tls_cert_file'), key: readConfigFile(keyFile, 'api.tls_key_file'), minVersion: 'TLSv1.2' };
}

export function createApi(deps: ApiDeps): Api {
  const app = buildApi(deps);
  return {
    app,
    async start() {
      await app.listen({ host: deps.config.host, port: deps.config.port });
      const addr = app.server.address() as AddressInfo;
      const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      return { url: `${apiTlsOptions(deps.config) ? 'https' : 'http'}://${host}:${addr.port}`, port: addr.port };
    },
    async stop() {
      const timer = setTimeout(() => app.server.closeAllConnections?.(), deps.config.shutdown_timeout_ms);
      timer.unref();
      try {
        await app.close();
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
