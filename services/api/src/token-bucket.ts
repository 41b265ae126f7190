/**
 * Why not @fastify/rate-limit (checked against its 10.x source, store/LocalStore.js and index.js):
 * - it counts fixed windows (a counter reset every timeWindow), so a client gets up to twice the
 *   limit across a window boundary; these buckets refill continuously;
 * - every request costs 1; here an export or a verification costs api.rate_limit_export_cost from
 *   the same bucket as the caller's searches (its per-route limits are separate counters instead);
 * - it runs as its own hook on every request; here one bucket counts only FAILED authentications
 *   per client IP, is checked before any key lookup, and another counts per credential after it
 *   (plugins/rate-limit.ts, plugins/auth.ts), answering 429 as an RFC 9457 problem;
 * - the self-audit uses the same bucket for its refusal records (plugins/audit-self.ts).
 * Replacing it would mean a custom store plus per-route plumbing larger than this file.
 *
 * Token buckets, one per key (an API key id, a token subject, or a client IP), in memory.
 * A bucket holds up to `burst` tokens and refills at `ratePerS`; a request takes `cost` tokens
 * or is refused with the time until enough have refilled (for Retry-After). Buckets live in a
 * Map in least-recently-used order; beyond `maxKeys` the least recently used is dropped, which
 * bounds memory (a dropped bucket comes back full, the lenient direction).
 * Limits are per process: N replicas allow N times the rate.
 */
export interface RateLimiterOptions {
  ratePerS: number;
  burst: number;
  maxKeys: number;
  /** Injected clock (ms) for tests. */
  now?: () => number;
}

export interface TakeResult {
  allowed: boolean;
  /** Whole tokens left after this request. */
  remaining: number;
  /** When refused: seconds until the request would be allowed (>= 1). */
  retryAfterS: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class TokenBucketLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly now: () => number;

  constructor(private readonly options: RateLimiterOptions) {
    if (!(options.ratePerS > 0) || !(options.burst >= 1) || !(options.maxKeys >= 1))
      throw new RangeError('rate limiter needs ratePerS > 0, burst >= 1, maxKeys >= 1');
    this.now = options.now ?? Date.now;
  }

  take(key: string, cost = 1): TakeResult {
    const now = this.now();
    const { ratePerS, burst } = this.options;
    const need = Math.min(cost, burst); // a cost above the burst could never pass
    let b = this.buckets.get(key);
    if (b) {
      this.buckets.delete(key);
      b.tokens = Math.min(burst, b.tokens + (Math.max(0, now - b.at) / 1000) * ratePerS);
      b.at = now;
    } else {
      b = { tokens: burst, at: now };
    }
    this.buckets.set(key, b);
    while (this.buckets.size > this.options.maxKeys) {
      const oldest = this.buckets.keys().next().value as string;
      this.buckets.delete(oldest);
    }
    if (b.tokens >= need) {
      b.tokens -= need;
      return { allowed: true, remaining: Math.floor(b.tokens), retryAfterS: 0 };
    }
    return { allowed: false, remaining: Math.floor(b.tokens), retryAfterS: Math.max(1, Math.ceil((need - b.tokens) / ratePerS)) };
  }

  /** Whether `cost` tokens are available now, without taking them (or creating a bucket). */
  peek(key: string, cost = 1): boolean {
    const b = this.buckets.get(key);
    if (!b) return true;
    const tokens = Math.min(this.options.burst, b.tokens + (Math.max(0, this.now() - b.at) / 1000) * this.options.ratePerS);
    return tokens >= Math.min(cost, this.options.burst);
  }

  get size(): number {
    return this.buckets.size;
  }
}
