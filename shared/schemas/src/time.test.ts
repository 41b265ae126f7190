import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AuditstreamError } from '@auditstream/core';
import { microsToDate, microsToIso, toMicros } from './time.js';

test('toMicros accepts Date, ISO strings, numbers and bigints', () => {
  const us = 1_714_564_800_123_456;
  assert.equal(toMicros(us), us);
  assert.equal(toMicros(BigInt(us)), us);
  assert.equal(toMicros(new Date(1_714_564_800_123)), 1_714_564_800_123_000);
  assert.equal(toMicros('2024-05-01T12:00:00.123456Z'), us);
  assert.equal(toMicros('2024-05-01T12:00:00.123456789Z'), us, 'nanoseconds are truncated');
  assert.equal(toMicros('2024-05-01T14:00:00.123456+02:00'), us);
  assert.equal(toMicros('2024-05-01T14:00:00.123456+0200'), us);
  assert.equal(toMicros('2024-05-01T12:00:00Z'), 1_714_564_800_000_000);
  assert.equal(toMicros('2024-05-01T12:00:00.1Z'), 1_714_564_800_100_000);
});

test('toMicros rejects ambiguous or invalid input naming the field', () => {
  for (const bad of ['2024-05-01T12:00:00', '2024-05-01', 'yesterday', '2024-02-30T00:00:00Z', 1.5, Number.NaN, new Date('x'), 2n ** 60n]) {
    assert.throws(
      () => toMicros(bad as never, 'occurred_at'),
      (e: unknown) => e instanceof AuditstreamError && e.code === 'TIMESTAMP_INVALID' && e.field === 'occurred_at',
      String(bad),
    );
  }
});

test('microsToIso keeps all six digits and round-trips', () => {
  for (const us of [1_714_564_800_123_456, 1_714_564_800_000_001, 0, 999, -1]) {
    assert.equal(toMicros(microsToIso(us)), us, String(us));
  }
  assert.equal(microsToIso(1_714_564_800_123_456), '2024-05-01T12:00:00.123456Z');
  assert.equal(microsToIso(-1), '1969-12-31T23:59:59.999999Z');
  assert.equal(microsToDate(1_714_564_800_123_456).toISOString(), '2024-05-01T12:00:00.123Z');
});
