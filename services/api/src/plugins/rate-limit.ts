import { ProblemError } from '../problem.js';
import type { Principal } from '../scope.js';
import { TokenBucketLimiter } from '../token-bucket.js';
import type { ApiMetrics } from './metrics.js';

/**
 * Rate limiting per credential (API key id or token issuer+subject), and per client IP for
 * requests that fail authentication. Refusals answer 429 with Retry-After (seconds).
 */
export interface RateLimitGate {
  /** Takes `cost` tokens from the principal's bucket or throws 429. */
  principal(principal: Principal, cost: number): void;
  /** Takes a token from the client IP's failed-authentication bucket or throws 429. */
  unauthenticated(ip: string): void;
  /** Throws 429 when the client IP has used up its failed-authentication bucket (checked before any key lookup). */
  checkIp(ip: string): void;
}

export function createRateLimitGate(
  options: { ratePerS: number; burst: number; maxKeys: number; unauthenticatedPerS: number; now?: () => number },
  metrics: ApiMetrics,
): RateLimitGate {
  const clock = options.now ? { now: options.now } : {};
  const byPrincipal = new TokenBucketLimiter({ ratePerS: options.ratePerS, burst: options.burst, maxKeys: options.maxKeys, ...clock });
  const byIp = new TokenBucketLimiter({
    ratePerS: options.unauthenticatedPerS,
    burst: Math.max(1, Math.ceil(options.unauthenticatedPerS * 2)),
    maxKeys: options.maxKeys,
    ...clock,
  });
  const refuse = (kind: string, retryAfterS: number) => {
    metrics.rateLimited.inc({ kind });
    return new ProblemError('rate_limited', `rate limit exceeded; retry after ${retryAfterS} s`, { headers: { 'retry-after': String(retryAfterS) } });
  };
  return {
    principal(principal, cost) {
      const r = byPrincipal.take(`${principal.kind}:${principal.id}`, cost);
      if (!r.allowed) throw refuse('principal', r.retryAfterS);
    },
    unauthenticated(ip) {
      const r = byIp.take(ip, 1);
      if (!r.allowed) throw refuse('unauthenticated', r.retryAfterS);
    },
    checkIp(ip) {
      if (!byIp.peek(ip, 1)) throw refuse('unauthenticated', Math.max(1, Math.ceil(1 / options.unauthenticatedPerS)));
    },
  };
}
