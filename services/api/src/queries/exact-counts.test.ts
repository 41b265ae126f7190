import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rollupPlan } from './exact-counts.js';

const H = 3_600_000_000n;
const scope = { all: true } as const;

test('rollupPlan: whole hours from the rollup; short edges added from events, long ones as their hour minus the rest', () => {
  assert.deepEqual(rollupPlan({ scope, from: 10n * H, to: 14n * H }), { lo: 10n * H, hi: 14n * H, add: [], sub: [] });
  const m = 60_000_000n;
  // 10:50 → 13:20: both edges short.
  assert.deepEqual(rollupPlan({ scope, from: 10n * H + 50n * m, to: 13n * H + 20n * m }), {
    lo: 11n * H,
    hi: 13n * H,
    add: [
      [10n * H + 50n * m, 11n * H],
      [13n * H, 13n * H + 20n * m],
    ],
    sub: [],
  });
  // 10:10 → 13:59:59.999999: both long, counted as whole hours minus 10:00–10:10 and the last µs.
  assert.deepEqual(rollupPlan({ scope, from: 10n * H + 10n * m, to: 14n * H - 1n }), {
    lo: 10n * H,
    hi: 14n * H,
    add: [],
    sub: [
      [10n * H, 10n * H + 10n * m],
      [14n * H - 1n, 14n * H],
    ],
  });
});

test('rollupPlan: no whole hour inside, or a filter outside the rollup key: the query over events', () => {
  assert.equal(rollupPlan({ scope, from: 10n * H + 1n, to: 11n * H + 5n }), undefined);
  assert.equal(rollupPlan({ scope, from: 10n * H, to: 14n * H, outcome: 'failure' }), undefined);
  assert.equal(rollupPlan({ scope, from: 10n * H, to: 14n * H, resource_id: 'r1' }), undefined);
  assert.ok(rollupPlan({ scope, from: 10n * H, to: 14n * H, action: 'a', actor_id: 'u' }));
});
