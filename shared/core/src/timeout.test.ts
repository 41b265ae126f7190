import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isAuditstreamError } from './errors.js';
import { withTimeout } from './timeout.js';

const never = new Promise<string>(() => {});

test('withTimeout: the promise settling first wins, value or error', async () => {
  assert.equal(await withTimeout(Promise.resolve('v'), 10_000), 'v');
  await assert.rejects(withTimeout(Promise.reject(new Error('boom')), 10_000), /boom/);
});

test('withTimeout: without onTimeout, a retriable TIMEOUT error', async () => {
  await assert.rejects(withTimeout(never, 5), (err: unknown) => isAuditstreamError(err) && err.code === 'TIMEOUT' && err.retriable);
});

test('withTimeout: onTimeout gives the fallback value, or the error it throws', async () => {
  assert.equal(await withTimeout(never, 5, () => false), false);
  await assert.rejects(
    withTimeout(never, 5, () => {
      throw new Error('gave up');
    }),
    /gave up/,
  );
});
