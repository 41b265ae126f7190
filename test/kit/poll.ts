import { sleep } from '@auditstream/core';

/**
 * The one poll-until of the tests. Calls `fn` until it is done, or throws after `timeoutMs`
 * naming `what` with the last value or error (and `detail()` when given, e.g. a child's output).
 * - `waitFor(what, fn, until, timeoutMs, everyMs?)`: done when `until(value)` holds; resolves with that value.
 * - `waitFor(what, fn, timeoutMs, options?)`: done when `fn` returns anything but undefined or false.
 * A throw from `fn` fails the wait at once, unless `retryOnError` (then it counts as not yet, and the
 * last one is reported).
 */
export async function waitFor<T>(what: string, fn: () => T | Promise<T>, until: (v: T) => boolean, timeoutMs: number, everyMs?: number): Promise<T>;
export async function waitFor<T>(
  what: string,
  fn: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs: number,
  options?: { everyMs?: number; detail?: () => string; retryOnError?: boolean },
): Promise<T>;
export async function waitFor<T>(
  what: string,
  fn: () => unknown,
  untilOrTimeout: ((v: T) => boolean) | number,
  timeoutOrOptions?: number | { everyMs?: number; detail?: () => string; retryOnError?: boolean },
  everyMs?: number,
): Promise<T> {
  const until = typeof untilOrTimeout === 'function' ? untilOrTimeout : (v: T) => v !== undefined && (v as unknown) !== false;
  const timeoutMs = typeof untilOrTimeout === 'number' ? untilOrTimeout : (timeoutOrOptions as number);
  const options = typeof timeoutOrOptions === 'object' ? timeoutOrOptions : {};
  const every = everyMs ?? options.everyMs ?? 250;
  const deadline = Date.now() + timeoutMs;
  let last: { value: unknown } | { error: unknown } | undefined;
  for (;;) {
    try {
      const value = (await fn()) as T;
      if (until(value)) return value;
      last = { value };
    } catch (error) {
      if (!options.retryOnError) throw error;
      last = { error };
    }
    if (Date.now() >= deadline) break;
    await sleep(every);
  }
  const lastText = !last ? '' : 'error' in last ? ` (last error: ${String(last.error)})` : ` (last: ${JSON.stringify(last.value)})`;
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastText}${options.detail ? `\n${options.detail()}` : ''}`);
}
