import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProblemError } from './problem.js';
import { microsToIso, parseIsoMicros, parseRange } from './time.js';

const problemFor = (parameter: string) => (err: unknown) =>
  err instanceof ProblemError && err.status === 400 && err.errors?.[0]?.parameter === parameter && err.errors[0].in === 'query';

test('ISO timestamps parse to microseconds, with zones and fractions', () => {
  assert.equal(parseIsoMicros('1970-01-01T00:00:00Z', 'from'), 0n);
  assert.equal(parseIsoMicros('2024-05-01T12:00:00.123456Z', 'from'), 1_714_564_800_123_456n);
  assert.equal(parseIsoMicros('2024-05-01T12:00:00.1234569Z', 'from'), 1_714_564_800_123_456n, 'beyond µs truncated');
  assert.equal(parseIsoMicros('2024-05-01T14:00:00+02:00', 'from'), 1_714_564_800_000_000n);
  assert.equal(parseIsoMicros('2024-05-01T14:00:00 02:00', 'from'), 1_714_564_800_000_000n, 'an unencoded + arrives as a space');
  assert.equal(parseIsoMicros('2024-05-01T10:30:00-0130', 'from'), 1_714_564_800_000_000n);
  assert.equal(parseIsoMicros('2024-05-01T12:00:00,5z', 'from'), 1_714_564_800_500_000n);
});

test('bad timestamps are 400 naming the parameter, never a crash', () => {
  for (const bad of [
    '',
    '2024-05-01',
    '2024-05-01T12:00:00',
    '2024-02-30T00:00:00Z',
    '2024-13-01T00:00:00Z',
    '2024-05-01T24:00:00Z',
    '2024-05-01T12:00:00+25:00',
    "2024-05-01T12:00:00Z' OR 1=1 --",
    '1969-12-31T23:59:59Z',
    '2200-01-01T00:00:00Z',
    'now',
  ])
    assert.throws(() => parseIsoMicros(bad, 'from'), problemFor('from'), bad);
});

test('microsToIso prints UTC with microseconds and round-trips', () => {
  assert.equal(microsToIso(1_714_564_800_123_456n), '2024-05-01T12:00:00.123456Z');
  assert.equal(microsToIso(0), '1970-01-01T00:00:00.000000Z');
  for (const us of [1n, 999_999n, 1_714_564_800_000_001n]) assert.equal(parseIsoMicros(microsToIso(us), 'x'), us);
});

test('ranges: to after from, span bounded', () => {
  assert.deepEqual(parseRange('2024-05-01T00:00:00Z', '2024-05-02T00:00:00Z', 86_400), { from: 1_714_521_600_000_000n, to: 1_714_608_000_000_000n });
  assert.throws(() => parseRange('2024-05-02T00:00:00Z', '2024-05-01T00:00:00Z', 86_400), problemFor('to'));
  assert.throws(() => parseRange('2024-05-01T00:00:00Z', '2024-05-01T00:00:00Z', 86_400), problemFor('to'));
  assert.throws(() => parseRange('2024-05-01T00:00:00Z', '2024-05-02T00:00:00.000001Z', 86_400), problemFor('to'));
});
