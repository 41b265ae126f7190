import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TokenBucketLimiter } from './token-bucket.js';

test('a bucket allows its burst, then refills at the rate', () => {
  let now = 0;
  const rl = new TokenBucketLimiter({ ratePerS: 2, burst: 5, maxKeys: 10, now: () => now });
  for (let i = 0; i < 5; i++) assert.equal(rl.take('k').allowed, true, `request ${i}`);
  const refused = rl.take('k');
  assert.equal(refused.allowed, false);
  assert.equal(refused.retryAfterS, 1);
  now += 499;
  assert.equal(rl.take('k').allowed, false, 'not yet a whole token');
  now += 1;
  assert.equal(rl.take('k').allowed, true, 'one token after 500 ms at 2/s');
  now += 60_000;
  for (let i = 0; i < 5; i++) assert.equal(rl.take('k').allowed, true, 'refills to the burst, no more');
  assert.equal(rl.take('k').allowed, false);
});

test('keys are independent, costs take several tokens, Retry-After covers the cost', () => {
  let now = 0;
  const rl = new TokenBucketLimiter({ ratePerS: 1, burst: 10, maxKeys: 10, now: () => now });
  assert.equal(rl.take('a', 10).allowed, true);
  assert.equal(rl.take('b').allowed, true, 'b has its own bucket');
  const r = rl.take('a', 4);
  assert.equal(r.allowed, false);
  assert.equal(r.retryAfterS, 4);
  now += 4000;
  assert.equal(rl.take('a', 4).allowed, true);
  assert.equal(rl.take('c', 1000).allowed, true, 'a cost above the burst is capped at the burst');
});

test('memory is bounded: the least recently used bucket is dropped', () => {
  const now = 0;
  const rl = new TokenBucketLimiter({ ratePerS: 1, burst: 1, maxKeys: 3, now: () => now });
  rl.take('a');
  rl.take('b');
  rl.take('c');
  rl.take('a'); // a is now the most recent (and empty)
  rl.take('d'); // evicts b
  assert.equal(rl.size, 3);
  assert.equal(rl.take('a').allowed, false, 'a kept its state');
  assert.equal(rl.take('b').allowed, true, 'b was dropped and comes back full');
});

test('peek says whether a request would pass, without taking a token', () => {
  const now = 0;
  const rl = new TokenBucketLimiter({ ratePerS: 1, burst: 2, maxKeys: 10, now: () => now });
  assert.equal(rl.peek('x'), true, 'no bucket yet: full');
  assert.equal(rl.size, 0, 'peek creates no bucket');
  rl.take('x');
  rl.take('x');
  assert.equal(rl.peek('x'), false);
  assert.equal(rl.take('x').allowed, false);
});

test('bad options are refused', () => {
  assert.throws(() => new TokenBucketLimiter({ ratePerS: 0, burst: 1, maxKeys: 1 }));
  assert.throws(() => new TokenBucketLimiter({ ratePerS: 1, burst: 0, maxKeys: 1 }));
});
