import { isRetriable } from './errors.js';

/**
 * The one backoff-with-jitter helper. "Full jitter" (AWS architecture blog): the delay
 * is uniform in [0, min(cap, base * 2^attempt)], which spreads retrying clients apart.
 */
export interface BackoffOptions {
  initial_delay_ms: number;
  max_delay_ms: number;
  multiplier?: number;
  /** Injected for deterministic tests. */
  random?: () => number;
}

export function backoffDelay(attempt: number, opts: BackoffOptions): number {
  const mult = opts.multiplier ?? 2;
  const ceiling = Math.min(opts.max_delay_ms, opts.initial_delay_ms * mult ** Math.max(0, attempt));
  const rnd = (opts.random ?? Math.random)();
  return Math.floor(ceiling * rnd);
}

export interface RetryOptions extends Partial<BackoffOptions> {
  /** Total attempts, including the first; Infinity retries until stopped. */
  max_attempts?: number;
  /** Give up when this much time has passed since the first attempt. */
  max_elapsed_ms?: number;
  /** Decides what is worth retrying. Defaults to the error's `retriable` flag. */
  shouldRetry?: (err: unknown, attempt: number) => boolean;
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  signal?: AbortSignal;
}

export async function retry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const backoff: BackoffOptions = {
    initial_delay_ms: options.initial_delay_ms ?? 100,
    max_delay_ms: options.max_delay_ms ?? 10_000,
    multiplier: options.multiplier ?? 2,
    ...(options.random ? { random: options.random } : {}),
  };
  const maxAttempts = options.max_attempts ?? 5;
  const shouldRetry = options.shouldRetry ?? ((err: unknown) => isRetriable(err));
  const started = Date.now();
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      const last = attempt + 1 >= maxAttempts;
      const elapsed = Date.now() - started;
      const outOfTime = options.max_elapsed_ms !== undefined && elapsed >= options.max_elapsed_ms;
      if (last || outOfTime || options.signal?.aborted || !shouldRetry(err, attempt)) throw err;
      let delay = backoffDelay(attempt, backoff);
      if (options.max_elapsed_ms !== undefined) delay = Math.min(delay, Math.max(0, options.max_elapsed_ms - elapsed));
      options.onRetry?.(err, attempt, delay);
      await sleep(delay, options.signal);
    }
  }
}

/** Resolves after `ms`, or early (without throwing) when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
