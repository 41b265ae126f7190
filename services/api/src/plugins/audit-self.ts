import { isIP } from 'node:net';
import type { Logger } from '@auditstream/observability';
import type { FastifyRequest } from 'fastify';
import { ProblemError } from '../problem.js';
import { scopeLabel, type TenantScope } from '../scope.js';
import type { ApiMetrics } from './metrics.js';

/**
 * Self-audit: every search, read and export is itself an audit event, published through the
 * SDK (`recordEvent`, injected: createAuditProducer(...).publish in production).
 *
 * - action audit.query (category resource_access) for searches, single reads, stats, alerts and
 *   integrity; audit.export (category data_export) for exports;
 * - actor: the API key id (type service) or the token subject (type user), with the client IP
 *   and user agent;
 * - tenant: the tenant read when there is one, else api.self_audit_tenant (the scope is then in
 *   attributes.scope);
 * - attributes: the endpoint (route pattern), the filter used (`filter.<parameter>`), the result
 *   size, the credential kind and role.
 *
 * Reads fail closed: the event is published (acknowledged by Kafka) BEFORE the data is sent, and
 * when it cannot be, the request answers 503 and serves nothing. Refusals (403) are recorded
 * with outcome denied on a best-effort basis.
 */
export interface SelfAuditEvent {
  tenant_id: string;
  actor: { id: string; type: 'user' | 'service'; ip?: string | null; user_agent?: string | null; session_id?: string | null };
  action: 'audit.query' | 'audit.export';
  category: 'resource_access' | 'data_export';
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
  /** Publishes without waiting or failing the request (refusals). */
  recordBestEffort(request: FastifyRequest, rec: SelfAuditRecord): void;
}

const MAX_VALUE = 512;
const clip = (s: string) => (s.length > MAX_VALUE ? `${s.slice(0, MAX_VALUE)}…` : s);

export function createSelfAuditor(deps: {
  recordEvent: RecordEvent;
  service: string;
  defaultTenant: string;
  logger: Logger;
  metrics: ApiMetrics;
  host?: string;
}): SelfAuditor {
  function build(request: FastifyRequest, rec: SelfAuditRecord): SelfAuditEvent {
    const p = request.principal;
    const scope = rec.scope;
    const tenant = scope && !scope.all && scope.tenants.length === 1 ? (scope.tenants[0] as string) : deps.defaultTenant;
    const attributes: Record<string, string> = {
      endpoint: `${request.method} ${request.routeOptions.url ?? 'unmatched'}`,
      principal_kind: p?.kind ?? 'none',
      role: p?.role ?? 'none',
    };
    // Who may have seen decrypted personal fields is itself on record (docs/field-encryption.md).
    if (p?.pii === true && p.role !== 'service') attributes.pii_permission = 'true';
    if (scope) attributes.scope = clip(scopeLabel(scope));
    let n = 0;
    for (const [k, v] of Object.entries(rec.filter ?? {})) {
      // Refusals happen before validation: keep only parameter-like names, and not too many.
      if (v === undefined || v === null || !/^[a-z_]{1,32}$/.test(k) || ++n > 32) continue;
      // The cursor is an opaque position, not a filter: note that one was used.
      attributes[`filter.${k}`] = k === 'cursor' ? 'present' : clip(String(v));
    }
    for (const [k, v] of Object.entries(rec.extra ?? {})) attributes[k] = clip(String(v));
    const ua = request.headers['user-agent'];
    const ip = isIP(request.ip) ? request.ip : null;
    const action = rec.kind === 'export' ? 'audit.export' : 'audit.query';
    return {
      tenant_id: tenant,
      actor: {
        id: p?.id ?? 'anonymous',
        type: p?.kind === 'jwt' ? 'user' : 'service',
        ip,
        user_agent: typeof ua === 'string' && ua !== '' ? clip(ua) : null, // "" is not a value in the contract
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

  return {
    async record(request, rec) {
      const event = build(request, rec);
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
    recordBestEffort(request, rec) {
      const event = build(request, rec);
      deps.recordEvent(event).catch((err) => {
        deps.metrics.selfAuditFailures.inc({ action: event.action });
        deps.logger.warn({ err_code: (err as { code?: string }).code ?? 'unknown', action: event.action }, 'self-audit event (refusal) could not be published');
      });
    },
  };
}
