import { AuditstreamError } from './errors.js';

/**
 * Waits for `promise`, but no longer than `ms`. When time runs out first, the result is
 * what `onTimeout` returns (a fallback value), or the error it throws; without
 * `onTimeout` it rejects with a retriable `TIMEOUT` error. The timer is cleared as soon as
 * `promise` settles. The promise itself is not cancelled: pass it an AbortSignal for that.
 */
export function withTimeout<T>(promise: PromiseLike<T>, ms: number): Promise<T>;
export function withTimeout<T, F>(promise: PromiseLike<T>, ms: number, onTimeout: () => F): Promise<T | F>;
export function withTimeout<T, F>(promise: PromiseLike<T>, ms: number, onTimeout?: () => F): Promise<T | F> {
  return new Promise<T | F>((resolve, reject) => {
    const timer = setTimeout(() => {
      if (!onTimeout) return reject(new AuditstreamError('TIMEOUT', `did not finish within ${ms} ms`, { retriable: true }));
      try {
        resolve(onTimeout());
      } catch (err) {
        reject(err);
      }
    }, ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
