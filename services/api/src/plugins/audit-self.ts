import { isIP } from 'node:net';
import type { Logger } from '@auditstream/observability';
import type { FastifyRequest } from 'fastify';
import { parseApiKey } from '../api-keys.js';
import { type ParameterError, ProblemError } from '../problem.js';
import { scopeLabel, type TenantScope } from '../scope.js';
import { TokenBucketLimiter } from '../token-bucket.js';
import type { ApiMetrics } from './metrics.js';

/**
 * Self-audit: every search, read and export is itself an audit event, published through the
 * SDK (`recordEvent`, injected: createAuditProducer(...).publish in production).
 *
 * - action audit.query (category resource_access) for searches, single reads, stats, alerts and
 *   integrity; audit.export (category data_export) for exports;
 * - actor: the API key id (type service) or the token subject (type user), with the client IP
 *   and user agent;
 * - tenant: never a tenant the caller merely named (an admin's `tenant=` can be anything, and
 *   an event under it would create that tenant). A credential scoped to named tenants records a
 *   one-tenant read under that tenant (one the operator gave it); everything else (all-tenant
 *   credentials, several tenants, refusals) goes to the operator tenant api.self_audit_tenant,
 *   the tenant read being attributes.target_tenant and the scope attributes.scope;
 * - attributes: the endpoint (route pattern), the filter used (`filter.<parameter>`), the result
 *   size, the credential kind and role.
 *
 * Reads fail closed: the event is published (acknowledged by Kafka) BEFORE the data is sent, and
 * when it cannot be, the request answers 503 and serves nothing.
 *
 * Refusals are recorded best-effort (recordRefusal), at most api.self_audit_refusals_per_s for
 * the whole process so that a flood cannot flood the store; the ones beyond are counted into the
 * next recorded one (attributes.suppressed_before):
 * - failed authentication (401, and 429 for an address that keeps failing) is action
 *   audit.authenticate, category authentication, outcome failure, actor anonymous with the client
 *   IP (the presented API key's public id, when it has the key format, in attributes.key_id), so
 *   key guessing shows in the log it attacks;
 * - a refused authenticated request is the route's audit.query / audit.export with outcome
 *   denied (403) or failure (400, 413, 415, 429), the reason being the problem kind; for 400s
 *   the names of the parameters at fault, never their values.
 */
export interface SelfAuditEvent {
  tenant_id: string;
  actor: { id: string; type: 'user' | 'service' | 'anonymous'; ip?: string | null; user_agent?: string | null; session_id?: string | null };
  action: 'audit.query' | 'audit.export' | 'audit.authenticate';
  category: 'resource_access' | 'data_export' | 'authentication';
  outcome: 'success' | 'denied' | 'failure' | 'error';
  reason?: string | null;
  service: string;
  host?: string | null;
  resource?: { type: string; id: string; name?: string | null } | null;
  request_id?: string | null;
  severity?: 'info' | 'low' | 'medium' | 'high' | 'critical';
  attributes: Record<string, string>;
}

/** Publishes one event; resolves once it is durably accepted (the SDK's publish). */
export type RecordEvent = (event: SelfAuditEvent) => Promise<unknown>;

export interface SelfAuditRecord {
  kind: 'query' | 'export';
  scope?: TenantScope | undefined;
  outcome?: SelfAuditEvent['outcome'];
  reason?: string;
  resource?: { type: string; id: string };
  /** The filter parameters as the caller sent them (validated). */
  filter?: Record<string, unknown>;
  extra?: Record<string, string | number>;
}

export interface SelfAuditor {
  /** Publishes the event; throws 503 when it cannot (fail closed). */
  record(request: FastifyRequest, rec: SelfAuditRecord): Promise<void>;
  /** Records a refused request (4xx), best effort and rate-limited; see the module comment. */
  recordRefusal(request: FastifyRequest, refusal: Refusal): void;
}

/** A refused request, as the problem plugin answered it. */
export interface Refusal {
  status: number;
  /** The problem kind (invalid_parameters, unauthenticated, forbidden, …). */
  kind: string;
  errors?: readonly ParameterError[] | undefined;
}

const MAX_VALUE = 512;
const clip = (s: string) => (s.length > MAX_VALUE ? `${s.slice(0, MAX_VALUE)}…` : s);

/** The caller's address and user agent, as the actor of a self-audit event. */
function client(request: FastifyRequest): { ip: string | null; user_agent: string | null } {
  const ua = request.headers['user-agent'];
  return {
    ip: isIP(request.ip) ? request.ip : null,
    user_agent: typeof ua === 'string' && ua !== '' ? clip(ua) : null, // "" is not a value in the contract
  };
}

export function createSelfAuditor(deps: {
  recordEvent: RecordEvent;
  service: string;
  defaultTenant: string;
  logger: Logger;
  metrics: ApiMetrics;
  host?: string;
  /** Refusals recorded per second, whole process (api.self_audit_refusals_per_s). */
  refusalsPerS: number;
  now?: () => number;
}): SelfAuditor {
  function build(request: FastifyRequest, rec: SelfAuditRecord): SelfAuditEvent {
    const p = request.principal;
    const scope = rec.scope;
    const one = scope && !scope.all && scope.tenants.length === 1 ? (scope.tenants[0] as string) : undefined;
    // Only a tenant the operator gave the credential is trusted to exist (see the module comment).
    const named = p && p.role !== 'admin' && p.tenants !== '*' && one !== undefined && p.tenants.includes(one);
    const attributes: Record<string, string> = {
      endpoint: `${request.method} ${request.routeOptions.url ?? 'unmatched'}`,
      principal_kind: p?.kind ?? 'none',
      role: p?.role ?? 'none',
    };
    // A read through a viewer token names the token (its id, never the token) and who minted it.
    if (p?.kind === 'viewer_token') {
      attributes.viewer_token_id = p.id;
      if (p.minted_by) attributes.viewer_token_minted_by = clip(p.minted_by);
    }
    // Who may have seen decrypted personal fields is itself on record (docs/field-encryption.md).
    if (p?.pii === true && p.role !== 'service') attributes.pii_permission = 'true';
    if (scope) attributes.scope = clip(scopeLabel(scope));
    if (one !== undefined && !named) attributes.target_tenant = clip(one);
    let n = 0;
    for (const [k, v] of Object.entries(rec.filter ?? {})) {
      // Refusals happen before validation: keep only parameter-like names, and not too many.
      if (v === undefined || v === null || !/^[a-z_]{1,32}$/.test(k) || ++n > 32) continue;
      // The cursor is an opaque position, not a filter: note that one was used.
      attributes[`filter.${k}`] = k === 'cursor' ? 'present' : clip(String(v));
    }
    for (const [k, v] of Object.entries(rec.extra ?? {})) attributes[k] = clip(String(v));
    const action = rec.kind === 'export' ? 'audit.export' : 'audit.query';
    return {
      tenant_id: named ? (one as string) : deps.defaultTenant,
      actor: {
        id: p?.id ?? 'anonymous',
        type: p?.kind === 'jwt' || p?.kind === 'viewer_token' ? 'user' : 'service',
        ...client(request),
      },
      action,
      category: rec.kind === 'export' ? 'data_export' : 'resource_access',
      outcome: rec.outcome ?? 'success',
      reason: rec.reason ?? null,
      service: deps.service,
      host: deps.host ?? null,
      resource: rec.resource ?? null,
      request_id: request.id,
      attributes,
    };
  }

  function publish(event: SelfAuditEvent): void {
    deps.recordEvent(event).catch((err) => {
      deps.metrics.selfAuditFailures.inc({ action: event.action });
      deps.logger.warn({ err_code: (err as { code?: string }).code ?? 'unknown', action: event.action }, 'self-audit event (refusal) could not be published');
    });
  }

  // One bucket for the whole process: refusals are what a flood is made of.
  const refusals = new TokenBucketLimiter({
    ratePerS: deps.refusalsPerS,
    burst: Math.max(1, Math.ceil(deps.refusalsPerS * 2)),
    maxKeys: 1,
    ...(deps.now ? { now: deps.now } : {}),
  });
  let suppressed = 0;
  // A request whose route already recorded it (a 404 after the lookup, a 501) is not recorded twice.
  const recorded = new WeakSet<FastifyRequest>();

  function refusalEvent(request: FastifyRequest, refusal: Refusal): SelfAuditEvent | undefined {
    const route = request.routeOptions.url;
    if (!route?.startsWith('/v1/')) return undefined;
    if (!request.principal) {
      // Only authentication failures happen before a principal exists on a /v1/ route.
      if (refusal.kind !== 'unauthenticated' && refusal.kind !== 'rate_limited') return undefined;
      const auth = request.headers.authorization;
      const token = typeof auth === 'string' ? /^Bearer +(\S+) *$/i.exec(auth)?.[1] : undefined;
      const keyId = token ? parseApiKey(token)?.id : undefined;
      return {
        tenant_id: deps.defaultTenant,
        actor: { id: 'anonymous', type: 'anonymous', ...client(request) },
        action: 'audit.authenticate',
        category: 'authentication',
        outcome: 'failure',
        reason: refusal.kind === 'unauthenticated' ? 'invalid_credentials' : 'rate_limited',
        service: deps.service,
        host: deps.host ?? null,
        resource: null,
        request_id: request.id,
        severity: 'low',
        attributes: {
          endpoint: `${request.method} ${route}`,
          status: String(refusal.status),
          credential:
            auth === undefined ? 'none' : keyId ? 'api_key' : token?.startsWith('avt_') ? 'viewer_token' : token?.includes('.') ? 'bearer_token' : 'malformed',
          ...(keyId ? { key_id: keyId } : {}),
        },
      };
    }
    const forbidden = refusal.status === 403;
    const invalid = refusal.kind === 'invalid_parameters' ? [...new Set((refusal.errors ?? []).map((e) => e.parameter))].join(',') : undefined;
    const event = build(request, {
      kind: route === '/v1/export' ? 'export' : 'query',
      outcome: forbidden ? 'denied' : 'failure',
      reason: forbidden ? forbiddenReason(refusal) : refusal.kind,
      // A 400's values are what was wrong with it: only the names of the parameters at fault are kept.
      filter: invalid === undefined ? ((request.query ?? {}) as Record<string, unknown>) : {},
      extra: { status: refusal.status, ...(invalid ? { invalid_parameters: invalid } : {}) },
    });
    return event;
  }

  return {
    async record(request, rec) {
      const event = build(request, rec);
      recorded.add(request);
      try {
        await deps.recordEvent(event);
      } catch (err) {
        deps.metrics.selfAuditFailures.inc({ action: event.action });
        deps.logger.error({ err_code: (err as { code?: string }).code ?? 'unknown', action: event.action }, 'self-audit event could not be published');
        throw new ProblemError('unavailable', 'the request was not served because its audit record could not be written; retry later', {
          headers: { 'retry-after': '5' },
          cause: err,
        });
      }
    },
    recordRefusal(request, refusal) {
      if (recorded.has(request)) return;
      const event = refusalEvent(request, refusal);
      if (!event) return;
      if (!refusals.take('all').allowed) {
        suppressed++;
        deps.metrics.selfAuditSuppressed.inc();
        return;
      }
      if (suppressed > 0) event.attributes.suppressed_before = String(suppressed);
      suppressed = 0;
      publish(event);
    },
  };
}

/** Why a 403 was answered: a tenant outside the credential, a viewer token's fixed filter, or the role. */
function forbiddenReason(refusal: Refusal): string {
  if (refusal.errors?.some((e) => e.parameter === 'tenant')) return 'tenant_out_of_scope';
  if (refusal.errors?.some((e) => e.message.includes('viewer token'))) return 'outside_viewer_token_filters';
  return 'role_not_allowed';
}
