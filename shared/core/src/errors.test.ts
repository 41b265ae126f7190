import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AuditstreamError, errorType, isRetriable } from './errors.js';
import { UUID_V7_RE, uuidv7 } from './ids.js';
import { backoffDelay, retry } from './retry.js';

test('AuditstreamError carries code, retriable, field and cause', () => {
  const cause = new Error('socket hang up');
  const err = new AuditstreamError('CLICKHOUSE_UNAVAILABLE', 'ClickHouse did not answer', { retriable: true, cause, field: 'x' });
  assert.equal(err.code, 'CLICKHOUSE_UNAVAILABLE');
  assert.equal(err.retriable, true);
  assert.equal(err.cause, cause);
  assert.equal(err.field, 'x');
  assert.equal(isRetriable(err), true);
  assert.equal(isRetriable(new AuditstreamError('BAD', 'bad')), false);
  assert.equal(isRetriable(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })), true);
  assert.equal(isRetriable(new TypeError('programmer error')), false);
  assert.equal(errorType(err), 'CLICKHOUSE_UNAVAILABLE');
  assert.equal(errorType(Object.assign(new Error('x'), { code: 'some free text with spaces' })), 'other');
});

test('backoff grows exponentially under a cap, with full jitter', () => {
  const max = () => 0.999999;
  assert.equal(backoffDelay(0, { initial_delay_ms: 100, max_delay_ms: 1000, random: max }), 99);
  assert.equal(backoffDelay(3, { initial_delay_ms: 100, max_delay_ms: 1000, random: max }), 799);
  assert.equal(backoffDelay(10, { initial_delay_ms: 100, max_delay_ms: 1000, random: max }), 999);
  assert.equal(backoffDelay(10, { initial_delay_ms: 100, max_delay_ms: 1000, random: () => 0 }), 0);
});

test('retry retries retriable errors only', async () => {
  let calls = 0;
  const out = await retry(
    async () => {
      calls++;
      if (calls < 3) throw new AuditstreamError('NET', 'down', { retriable: true });
      return 'ok';
    },
    { initial_delay_ms: 1, max_delay_ms: 2 },
  );
  assert.equal(out, 'ok');
  assert.equal(calls, 3);

  calls = 0;
  await assert.rejects(
    retry(
      async () => {
        calls++;
        throw new AuditstreamError('DATA', 'bad row');
      },
      { initial_delay_ms: 1 },
    ),
    /bad row/,
  );
  assert.equal(calls, 1, 'data errors are never retried');

  calls = 0;
  await assert.rejects(
    retry(
      async () => {
        calls++;
        throw new AuditstreamError('NET', 'down', { retriable: true });
      },
      { initial_delay_ms: 1, max_attempts: 4 },
    ),
  );
  assert.equal(calls, 4);
});

test('uuidv7 has the v7 layout and sorts by time', () => {
  const a = uuidv7(1_700_000_000_000);
  const b = uuidv7(1_700_000_000_001);
  assert.match(a, UUID_V7_RE);
  assert.ok(a < b);
  assert.equal(a.slice(0, 13).replace('-', ''), (1_700_000_000_000).toString(16).padStart(12, '0'));
  const many = new Set(Array.from({ length: 2000 }, () => uuidv7(1_700_000_000_000)));
  assert.equal(many.size, 2000, 'ids drawn from the random pool never repeat');
  for (const id of many) assert.match(id, UUID_V7_RE);
});
