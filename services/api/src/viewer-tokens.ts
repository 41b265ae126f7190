import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { FIXED_FILTER_KEYS, type FixedFilters, type Principal } from './scope.js';

/**
 * Viewer tokens (POST /v1/viewer-tokens): short-lived, read-only, one tenant, optional fixed
 * filters, for the embeddable viewer (/console/embed?token=…). Stateless and signed:
 *
 *   avt_<base64url(JSON claims)>.<base64url(HMAC-SHA256(api.viewer_token_secret, "avt1." + claims))>
 *
 * Not a JWT: jwt.ts verifies the OIDC issuer's asymmetric tokens only (never HMAC), and an API key
 * (api-keys.ts) is a stored, long-lived credential; a viewer token must be mintable at request
 * rate without a ClickHouse write and die by itself. It cannot be revoked: its lifetime is bounded
 * by api.viewer_token_max_ttl_s. The token id (`vt_…`, in the claims) is what logs, self-audit
 * events and answers name; the token itself is shown once, to the minter.
 */
export const VIEWER_TOKEN_PREFIX = 'avt_';
const MAX_TOKEN_LENGTH = 4096;
const B64URL_RE = /^[A-Za-z0-9_-]+$/;

export interface ViewerClaims {
  v: 1;
  /** Token id: vt_ + 16 hex characters. */
  id: string;
  tenant: string;
  filters: FixedFilters;
  /** Issued at / expires at, Unix seconds. */
  iat: number;
  exp: number;
  /** The minting principal's id (an API key id or a token subject). */
  by: string;
}

export interface ViewerTokenCodec {
  mint(input: { tenant: string; filters: FixedFilters; ttlS: number; by: string }): { token: string; claims: ViewerClaims };
  /** The principal of a valid, unexpired token; undefined for anything else (the caller answers 401). */
  verify(token: string): Principal | undefined;
}

export function createViewerTokenCodec(secret?: string | Buffer, now: () => number = Date.now): ViewerTokenCodec {
  const key = secret === undefined ? randomBytes(32) : Buffer.from(secret);
  const mac = (body: string) => createHmac('sha256', key).update(`avt1.${body}`).digest();
  return {
    mint({ tenant, filters, ttlS, by }) {
      const iat = Math.floor(now() / 1000);
      const claims: ViewerClaims = { v: 1, id: `vt_${randomBytes(8).toString('hex')}`, tenant, filters, iat, exp: iat + ttlS, by };
      const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
      return { token: `${VIEWER_TOKEN_PREFIX}${body}.${mac(body).toString('base64url')}`, claims };
    },
    verify(token) {
      if (!token.startsWith(VIEWER_TOKEN_PREFIX) || token.length > MAX_TOKEN_LENGTH) return undefined;
      const [body, sig, extra] = token.slice(VIEWER_TOKEN_PREFIX.length).split('.');
      if (!body || !sig || extra !== undefined || !B64URL_RE.test(body) || !B64URL_RE.test(sig)) return undefined;
      // Compared as text: base64url has several spellings of the same bytes (unused low bits).
      const given = Buffer.from(sig);
      const want = Buffer.from(mac(body).toString('base64url'));
      if (given.length !== want.length || !timingSafeEqual(given, want)) return undefined;
      const claims = parseClaims(body);
      if (!claims) return undefined;
      // Expired at exp exactly; a token from the future (another replica's clock) is accepted within a minute.
      const t = Math.floor(now() / 1000);
      if (t >= claims.exp || claims.iat > t + 60) return undefined;
      return { kind: 'viewer_token', id: claims.id, role: 'auditor', tenants: [claims.tenant], fixed: claims.filters, minted_by: claims.by };
    },
  };
}

function parseClaims(body: string): ViewerClaims | undefined {
  let c: unknown;
  try {
    c = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof c !== 'object' || c === null) return undefined;
  const o = c as Record<string, unknown>;
  if (o.v !== 1 || typeof o.id !== 'string' || typeof o.tenant !== 'string' || o.tenant === '' || typeof o.by !== 'string') return undefined;
  if (!Number.isSafeInteger(o.iat) || !Number.isSafeInteger(o.exp)) return undefined;
  const f = o.filters;
  if (typeof f !== 'object' || f === null || Array.isArray(f)) return undefined;
  const filters: FixedFilters = {};
  for (const [k, v] of Object.entries(f)) {
    // Signed by us, so only a key change could put anything else here: refuse rather than ignore.
    if (!(FIXED_FILTER_KEYS as readonly string[]).includes(k) || typeof v !== 'string') return undefined;
    filters[k as keyof FixedFilters] = v;
  }
  return { v: 1, id: o.id, tenant: o.tenant, filters, iat: o.iat as number, exp: o.exp as number, by: o.by };
}
