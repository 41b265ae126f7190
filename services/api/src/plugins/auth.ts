import type { FastifyInstance, FastifyRequest } from 'fastify';
import { API_KEY_PREFIX, type ApiKeyVerifier } from '../api-keys.js';
import { type JwtVerifier, looksLikeJwt } from '../jwt.js';
import { ProblemError } from '../problem.js';
import type { Permission, Principal } from '../scope.js';
import { requirePermission } from '../scope.js';
import { VIEWER_TOKEN_PREFIX, type ViewerTokenCodec } from '../viewer-tokens.js';
import type { RateLimitGate } from './rate-limit.js';

// The OpenAPI keys beside the validation schemas (operationId, summary, tags, hide, …) are
// declared by @fastify/swagger (openapi.ts); fastify ignores them.
declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth hook on every non-public route. */
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    /** No credentials needed (health, metrics, the OpenAPI document). */
    public?: boolean;
    /** What the caller's role must allow. */
    permission?: Permission;
    /** Tokens the request takes from the caller's rate-limit bucket (default 1). */
    rateCost?: number;
    /** Error statuses the route answers, for the OpenAPI document. */
    problems?: readonly number[];
    /** Extra OpenAPI for the operation (alternative response content types). */
    openapi?: Record<string, unknown>;
  }
}

/**
 * Authentication, then rate limiting, then the role check, before anything is parsed further:
 * an unauthenticated caller learns nothing about parameters. Credentials travel as
 * `Authorization: Bearer <token>`: an API key (`ask_…`), a viewer token (`avt_…`, read-only, one
 * tenant, fixed filters: viewer-tokens.ts) or, when OIDC is configured, a JWT.
 * Failures answer 401 with the same detail whatever was wrong (unknown, revoked, bad signature,
 * expired), and count against a per-IP bucket so keys cannot be guessed at speed; once it is
 * empty, the address gets 429 before any lookup (also for valid keys behind the same address).
 */
export function registerAuth(
  app: FastifyInstance,
  deps: { apiKeys: ApiKeyVerifier; jwt: JwtVerifier | undefined; viewerTokens: ViewerTokenCodec; limits: RateLimitGate },
): void {
  app.decorateRequest('principal', null);

  app.addHook('onRequest', async (request) => {
    const config = request.routeOptions.config;
    if (!request.routeOptions.url || config.public) return; // 404s and public routes
    // An address that keeps failing is refused before its keys cost a lookup.
    deps.limits.checkIp(request.ip);
    const principal = await authenticate(request, deps);
    if (!principal) {
      deps.limits.unauthenticated(request.ip);
      throw new ProblemError('unauthenticated', 'a valid API key or bearer token is required (Authorization: Bearer <token>)', {
        headers: { 'www-authenticate': 'Bearer realm="auditstream"' },
      });
    }
    request.principal = principal;
    deps.limits.principal(principal, config.rateCost ?? 1);
    if (config.permission) requirePermission(principal, config.permission);
  });
}

async function authenticate(
  request: FastifyRequest,
  deps: { apiKeys: ApiKeyVerifier; jwt: JwtVerifier | undefined; viewerTokens: ViewerTokenCodec },
): Promise<Principal | undefined> {
  const header = request.headers.authorization;
  if (typeof header !== 'string' || header.length > 8192) return undefined;
  const m = /^Bearer +([^\s]+) *$/i.exec(header);
  if (!m) return undefined;
  const token = m[1] as string;
  if (token.startsWith(API_KEY_PREFIX)) return deps.apiKeys.verify(token);
  if (token.startsWith(VIEWER_TOKEN_PREFIX)) return deps.viewerTokens.verify(token);
  if (deps.jwt && looksLikeJwt(token)) return deps.jwt.verify(token);
  return undefined;
}
