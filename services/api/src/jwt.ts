import { createRemoteJWKSet, type JWTPayload, errors as joseErrors, jwtVerify } from 'jose';
import { ProblemError } from './problem.js';
import { isRole, type Principal } from './scope.js';

/**
 * OIDC bearer tokens: JWTs signed by the issuer's keys (fetched from its JWKS URL, cached and
 * refreshed on an unknown `kid`), with the configured `iss` and `aud`, valid `exp`/`nbf`, and an
 * asymmetric algorithm (never `none` or HMAC: the JWKS holds public keys). The role and tenants
 * come from claims (api.oidc_role_claim, api.oidc_tenants_claim); the subject is the actor.
 */
export interface OidcOptions {
  jwksUrl: string;
  issuer: string;
  audience: string;
  roleClaim: string;
  tenantsClaim: string;
  /** Claim that, when `true`, grants the PII permission (decrypted personal fields). */
  piiClaim?: string;
  clockToleranceS: number;
}

export const JWT_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

export interface JwtVerifier {
  /** The principal, or undefined when the token is not valid. Throws 403 when valid but without a usable role. */
  verify(token: string): Promise<Principal | undefined>;
}

export function looksLikeJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token);
}

export function createJwtVerifier(options: OidcOptions): JwtVerifier {
  const jwks = createRemoteJWKSet(new URL(options.jwksUrl), { timeoutDuration: 5000, cooldownDuration: 30_000, cacheMaxAge: 600_000 });
  return {
    async verify(token) {
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, jwks, {
          issuer: options.issuer,
          audience: options.audience,
          algorithms: JWT_ALGORITHMS,
          clockTolerance: options.clockToleranceS,
          requiredClaims: ['sub', 'exp'],
        }));
      } catch (err) {
        // The JWKS could not be fetched: that is our outage, not a bad token.
        if (
          err instanceof joseErrors.JWKSTimeout ||
          (err instanceof Error && /fetch|ECONN|network/i.test(err.message) && !(err instanceof joseErrors.JOSEError))
        )
          throw new ProblemError('unavailable', 'the identity provider\u2019s keys (JWKS) could not be fetched; retry later', { cause: err });
        return undefined;
      }
      const sub = payload.sub;
      if (typeof sub !== 'string' || sub.length === 0 || sub.length > 256) return undefined;
      const role = payload[options.roleClaim];
      if (!isRole(role))
        throw new ProblemError('forbidden', `the token carries no auditstream role (claim ${options.roleClaim} must be auditor, admin or service)`);
      const claim = payload[options.tenantsClaim];
      let tenants: '*' | string[];
      if (claim === '*') tenants = '*';
      else if (Array.isArray(claim) && claim.every((t) => typeof t === 'string' && t.length > 0 && t.length <= 256))
        tenants = claim.includes('*') ? '*' : (claim as string[]);
      else if (typeof claim === 'string' && claim.length > 0 && claim.length <= 256) tenants = [claim];
      else if (role === 'admin' || role === 'service') tenants = role === 'admin' ? '*' : [];
      else throw new ProblemError('forbidden', `the token carries no tenants (claim ${options.tenantsClaim})`);
      // The PII permission only from the boolean true (not "true", not 1): never implied by the role.
      const pii = options.piiClaim !== undefined && payload[options.piiClaim] === true;
      return { kind: 'jwt', id: sub, role, tenants, ...(pii ? { pii } : {}) };
    },
  };
}
