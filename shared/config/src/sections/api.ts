import { z } from 'zod';
import { listenHost, port, positiveInt } from './common.js';

const DAY_S = 86_400;

/**
 * The query API (services/api, `auditstream api`): search, stats, export, alerts and integrity
 * over ClickHouse, authenticated by API keys (audit.api_keys) or OIDC bearer tokens, every read
 * recorded as an audit event through the SDK (topic from `topics.events`).
 */
export const apiSection = z
  .strictObject({
    host: listenHost().describe('Address the API listens on (loopback by default: put a TLS-terminating proxy in front).'),
    port: port().default(8080).describe('Port the API listens on (0 picks a free one).'),
    tls_cert_file: z
      .string()
      .min(1)
      .optional()
      .describe('PEM certificate (chain) for HTTPS; set with tls_key_file to serve HTTPS itself, unset = plain HTTP (put a TLS proxy in front).'),
    tls_key_file: z.string().min(1).optional().describe('PEM private key of tls_cert_file (secret: keep the file 0600).'),
    max_range_s: positiveInt()
      .default(31 * DAY_S)
      .describe('Longest time range (to - from) a search or stats request may span.'),
    export_max_range_s: positiveInt()
      .default(366 * DAY_S)
      .describe('Longest time range (to - from) an export may span.'),
    default_limit: positiveInt().max(1000).default(100).describe('Page size of GET /v1/events and /v1/alerts when the request gives no limit.'),
    max_timeseries_buckets: positiveInt().default(10_000).describe('Most buckets (range / interval) a timeseries request may ask for.'),
    query_timeout_s: positiveInt().default(30).describe('ClickHouse max_execution_time of each search, stats or lookup query; exceeding it answers 504.'),
    export_timeout_s: positiveInt().default(3600).describe('ClickHouse max_execution_time of an export query.'),
    export_sort_spill_bytes: z
      .number()
      .int()
      .min(0)
      .default(256 * 1024 * 1024)
      .describe('ClickHouse max_bytes_before_external_sort for exports: sorts larger than this spill to disk on the server (0 = never).'),
    export_manifest_signing_key_file: z
      .string()
      .min(1)
      .optional()
      .describe(
        'PEM file with the Ed25519 private key (PKCS#8, `auditstream keys generate`) that signs export manifests (docs/integrity.md#export-manifests); unset = exports carry no manifest. `auditstream up` makes a local one. Use a key of its own, not the checkpoint key.',
      ),
    export_manifest_signing_key: z
      .string()
      .min(1)
      .optional()
      .describe('The export manifest signing key PEM itself (secret: prefer export_manifest_signing_key_file or the environment).'),
    export_manifest_ttl_s: positiveInt()
      .default(DAY_S)
      .describe("How long the manifest of a finished export can be fetched (GET /v1/export/manifest); kept in this process's memory."),
    export_manifest_max_entries: positiveInt().default(1000).describe('Manifests kept in memory at most (a few KB each); the oldest is dropped beyond this.'),
    export_manifest_public_key_files: z
      .array(z.string().min(1))
      .default([])
      .describe('Public keys (PEM files, or directories of *.pem) `auditstream export verify` trusts when no --public-key is given (env: comma-separated).'),
    body_limit_bytes: positiveInt().default(16_384).describe('Largest request body accepted (POST /v1/integrity/verify); larger bodies answer 413.'),
    collector_max_events: positiveInt()
      .default(1000)
      .describe('Most events one POST /v1/events request may carry (JSON array items or NDJSON lines); more answers 413.'),
    collector_max_body_bytes: positiveInt()
      .default(1024 * 1024)
      .describe('Largest POST /v1/events body (the collector; other endpoints use body_limit_bytes); larger bodies answer 413.'),
    rate_limit_per_s: z
      .number()
      .positive()
      .default(10)
      .describe('Requests per second each API key or token subject may make on average (token bucket refill rate).'),
    rate_limit_burst: positiveInt().default(50).describe('Token bucket size: requests a key may make at once before it is limited.'),
    rate_limit_export_cost: positiveInt().default(10).describe('Tokens one export takes from the bucket (an export costs more than a page).'),
    rate_limit_max_keys: positiveInt().default(100_000).describe('Buckets kept in memory; the least recently used is dropped beyond this.'),
    unauthenticated_rate_limit_per_s: z
      .number()
      .positive()
      .default(5)
      .describe('Requests per second per client IP that fail authentication (slows down key guessing).'),
    api_key_cache_ttl_ms: z
      .number()
      .int()
      .min(0)
      .default(10_000)
      .describe('How long a looked-up API key is cached; a revoked key stops working within this time.'),
    cursor_secret: z
      .string()
      .min(32)
      .optional()
      .describe('HMAC key signing pagination cursors (secret: prefer cursor_secret_file); unset = random per process.'),
    cursor_secret_file: z.string().optional().describe('File holding the cursor signing key (at least 32 characters).'),
    oidc_jwks_url: z.string().url().optional().describe('JWKS URL of the OIDC issuer; unset disables bearer JWTs (API keys only).'),
    oidc_issuer: z.string().min(1).optional().describe('Required `iss` of bearer JWTs.'),
    oidc_audience: z.string().min(1).optional().describe('Required `aud` of bearer JWTs.'),
    oidc_role_claim: z.string().min(1).default('auditstream_role').describe('JWT claim holding the role (auditor, admin or service).'),
    oidc_tenants_claim: z.string().min(1).default('auditstream_tenants').describe('JWT claim holding the tenant ids (list, or "*" for all).'),
    oidc_pii_claim: z
      .string()
      .min(1)
      .default('auditstream_pii')
      .describe('JWT claim that grants the PII permission (decrypted personal fields) when it is the boolean true; absent = masked.'),
    oidc_clock_tolerance_s: z.number().int().min(0).default(30).describe('Clock skew allowed when checking exp and nbf of bearer JWTs.'),
    self_audit_tenant: z
      .string()
      .min(1)
      .default('auditstream')
      .describe(
        'Operator tenant of the self-audit events of all-tenant credentials (admin, "*"; the tenant read is attributes.target_tenant), of reads spanning several tenants, and of refused requests. A credential scoped to named tenants records a one-tenant read under that tenant.',
      ),
    self_audit_refusals_per_s: z
      .number()
      .positive()
      .default(10)
      .describe(
        'Refused requests (401 key guessing, 400, 403, 429) recorded as self-audit events per second, whole process (burst twice that); beyond it they are counted into the next recorded one (attributes.suppressed_before), protecting the store.',
      ),
    self_audit_service: z.string().min(1).default('auditstream-api').describe('`service` field of the self-audit events.'),
    viewer_token_secret: z
      .string()
      .min(32)
      .optional()
      .describe('HMAC-SHA256 key signing viewer tokens (POST /v1/viewer-tokens; secret: prefer viewer_token_secret_file); unset = random per process.'),
    viewer_token_secret_file: z.string().optional().describe('File holding the viewer token signing key (at least 32 characters).'),
    viewer_token_max_ttl_s: positiveInt()
      .max(DAY_S)
      .default(3600)
      .describe('Longest lifetime a viewer token may be minted with (ttl_s above it answers 400); tokens cannot be revoked, so keep it short.'),
    viewer_token_default_ttl_s: positiveInt().default(900).describe('Lifetime of a viewer token minted without ttl_s (capped at viewer_token_max_ttl_s).'),
    console_frame_ancestors: z
      .string()
      .min(1)
      .default("'self'")
      .describe(
        'CSP frame-ancestors of the embeddable viewer (/console/embed): the origins allowed to put it in an iframe, space-separated (e.g. "\'self\' https://app.example.com"); "\'none\'" forbids embedding.',
      ),
    saved_searches_username: z
      .string()
      .min(1)
      .optional()
      .describe(
        'ClickHouse account the API writes saved searches with (INSERT into saved_searches); unset = the API\u2019s own clickhouse.username, which must then be allowed to insert (the secure stack\u2019s reader is not).',
      ),
    saved_searches_password_file: z.string().optional().describe('File holding the password of api.saved_searches_username.'),
    saved_searches_max_per_principal: positiveInt()
      .default(200)
      .describe('Most saved searches one credential may keep per tenant (POST beyond it answers 400).'),
    pipeline_ingest_metrics_url: z
      .string()
      .url()
      .optional()
      .describe(
        'The ingest service\u2019s /metrics URL read by GET /v1/health/pipeline; unset = http://<ingest.metrics_host>:<ingest.metrics_port>/metrics (what `auditstream up` runs).',
      ),
    pipeline_alerting_metrics_url: z
      .string()
      .url()
      .optional()
      .describe(
        'The alerting service\u2019s /metrics URL read by GET /v1/health/pipeline; unset = http://<alerting.metrics_host>:<alerting.metrics_port>/metrics.',
      ),
    pipeline_scrape_timeout_ms: positiveInt()
      .default(2000)
      .describe('How long GET /v1/health/pipeline waits for each service\u2019s /metrics before reporting it unreachable.'),
    trust_proxy: z.boolean().default(false).describe('Take the client IP from X-Forwarded-For (only behind a trusted proxy).'),
    console_enabled: z.boolean().default(true).describe('Serve the web console at /console (assets built at API start; docs/console.md).'),
    console_signin_ttl_s: positiveInt()
      .default(600)
      .describe('Lifetime of a one-time console sign-in code (POST /v1/console/signin-codes; `auditstream up` prints one); a code works once.'),
    console_oidc_client_id: z
      .string()
      .min(1)
      .max(256)
      .optional()
      .describe(
        'OAuth client id of the console at the OIDC issuer (a public client: authorization code + PKCE, redirect URI `<api>/console/signin/oidc`; the access token must be a JWT the API accepts). Unset: the sign-in page takes a pasted token instead.',
      ),
    console_oidc_scopes: z.string().min(1).default('openid').describe('Scopes the console asks the OIDC issuer for (space-separated).'),
    shutdown_timeout_ms: positiveInt().default(10_000).describe('On SIGTERM/SIGINT: how long in-flight requests and the SDK flush may take before exiting.'),
  })
  .superRefine((c, ctx) => {
    // Half an OIDC setup would silently accept API keys only: refuse it, naming the first key missing.
    const oidc = ['oidc_jwks_url', 'oidc_issuer', 'oidc_audience'] as const;
    const missing = oidc.filter((k) => c[k] === undefined);
    if (missing.length > 0 && missing.length < oidc.length) {
      ctx.addIssue({
        code: 'custom',
        path: [missing[0] as string],
        message: 'is required when any of api.oidc_jwks_url, api.oidc_issuer, api.oidc_audience is set',
      });
    }
    if (c.console_oidc_client_id !== undefined && c.oidc_issuer === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['oidc_issuer'],
        message: 'is required when api.console_oidc_client_id is set (the console signs in at that issuer)',
      });
    if (!c.tls_cert_file !== !c.tls_key_file) {
      const [absent, present] = c.tls_cert_file ? ['tls_key_file', 'tls_cert_file'] : ['tls_cert_file', 'tls_key_file'];
      ctx.addIssue({ code: 'custom', path: [absent], message: `must be set together with api.${present} (HTTPS)` });
    }
  })
  .prefault({});

export type ApiSection = z.infer<typeof apiSection>;
