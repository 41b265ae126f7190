import { ProblemError } from './problem.js';

/**
 * Who is calling and what they may see. Roles:
 * - auditor: reads events (search, single event, stats) and exports, for its tenants only;
 * - admin:   everything, all tenants: events, exports, alerts, integrity;
 * - service: publishes events for its tenants (POST /v1/events, the collector) but may not read anything here.
 *
 * Tenant scoping is decided here, once per request, and the result (a TenantScope) is what the
 * query layer takes: every query function requires one and turns it into a tenant_id condition,
 * so no route can forget it.
 */
export const ROLES = ['auditor', 'admin', 'service'] as const;
export type Role = (typeof ROLES)[number];

export type Permission =
  | 'events:read'
  | 'events:export'
  | 'alerts:read'
  | 'integrity:verify'
  | 'events:publish'
  | 'viewer_tokens:mint'
  | 'searches:manage'
  | 'pipeline:read';

const PERMISSIONS: Readonly<Record<Role, ReadonlySet<Permission>>> = {
  auditor: new Set(['events:read', 'events:export', 'searches:manage', 'pipeline:read']),
  admin: new Set(['events:read', 'events:export', 'alerts:read', 'integrity:verify', 'viewer_tokens:mint', 'searches:manage', 'pipeline:read']),
  service: new Set(['events:publish', 'viewer_tokens:mint']),
};

/** The event filters a viewer token may fix (every read through it is narrowed to them). */
export const FIXED_FILTER_KEYS = [
  'actor_id',
  'actor_type',
  'action',
  'action_prefix',
  'category',
  'outcome',
  'severity',
  'resource_type',
  'resource_id',
  'service',
  'source_ip',
] as const;
export type FixedFilters = Partial<Record<(typeof FIXED_FILTER_KEYS)[number], string>>;

export interface Principal {
  /**
   * api_key: an API key (id = the key id); jwt: an OIDC bearer token (id = its subject);
   * viewer_token: a short-lived read-only token (id = the token id, never the token), role auditor, one tenant.
   */
  kind: 'api_key' | 'jwt' | 'viewer_token';
  id: string;
  role: Role;
  /** Tenants the principal may act on; '*' = all. */
  tenants: '*' | readonly string[];
  /** The PII permission: encrypted personal fields are shown decrypted (else masked). Never implied by a role. */
  pii?: boolean;
  /** viewer_token only: the filters fixed at minting, and who minted it (a principal id). */
  fixed?: Readonly<FixedFilters>;
  minted_by?: string;
}

/** The tenants a query may read: all of them, or a non-empty list. */
export type TenantScope = { all: true } | { all: false; tenants: readonly string[] };

export function isRole(v: unknown): v is Role {
  return typeof v === 'string' && (ROLES as readonly string[]).includes(v);
}

export function can(principal: Principal, permission: Permission): boolean {
  // A viewer token reads events (search, detail, verify, stats) and nothing else, whatever its role.
  if (principal.kind === 'viewer_token') return permission === 'events:read';
  return PERMISSIONS[principal.role].has(permission);
}

export function requirePermission(principal: Principal, permission: Permission): void {
  if (!can(principal, permission))
    throw new ProblemError('forbidden', `${principal.kind === 'viewer_token' ? 'a viewer token' : `role ${principal.role}`} may not ${describe(permission)}`);
}

function describe(p: Permission): string {
  switch (p) {
    case 'events:read':
      return 'read events';
    case 'events:export':
      return 'export events';
    case 'alerts:read':
      return 'read alerts';
    case 'integrity:verify':
      return 'run integrity verification';
    case 'events:publish':
      return 'publish events (service keys only)';
    case 'viewer_tokens:mint':
      return 'mint viewer tokens (admin and service credentials only)';
    case 'searches:manage':
      return 'manage saved searches (auditor and admin credentials only)';
    case 'pipeline:read':
      return 'read the pipeline health';
  }
}

/**
 * The scope of one request: the `tenant` parameter narrowed to what the principal may see.
 * - tenant given and inside the principal's tenants → that tenant only;
 * - tenant given and outside → 403 (the same answer whether or not the tenant exists);
 * - tenant absent → every tenant of the principal ('*' for admin keys).
 * Admins always have every tenant, whatever their tenant list says.
 */
export function resolveScope(principal: Principal, tenant: string | undefined): TenantScope {
  const all = principal.role === 'admin' || principal.tenants === '*';
  if (tenant !== undefined) {
    if (!all && !(principal.tenants as readonly string[]).includes(tenant))
      throw new ProblemError('forbidden', 'parameter tenant names a tenant this credential may not read', {
        errors: [{ parameter: 'tenant', in: 'query', message: 'outside the tenants of this credential' }],
      });
    return { all: false, tenants: [tenant] };
  }
  if (all) return { all: true };
  const tenants = principal.tenants as readonly string[];
  // A principal with an empty tenant list may read nothing; never treat it as "all".
  if (tenants.length === 0) throw new ProblemError('forbidden', 'this credential is not scoped to any tenant');
  return { all: false, tenants: [...tenants] };
}

/** The tenants of a scope, for logs and audit attributes: '*' or a comma-separated list. */
export function scopeLabel(scope: TenantScope): string {
  return scope.all ? '*' : scope.tenants.join(',');
}
