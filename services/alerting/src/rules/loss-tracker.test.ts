import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LossTracker } from './loss-tracker.js';

const opts = { graceMs: 60_000, forgetMs: 3_600_000, maxProducers: 100, maxAhead: 1000 };

test('in-order, shuffled and repeated numbers leave no gap', () => {
  const t = new LossTracker(opts);
  const order = [0, 1, 2, 5, 3, 4, 4, 2, 6, 9, 8, 7, 7, 10];
  const seen = order.map((s, i) => t.observe('p', s, 1000 + i, `e${s}`));
  assert.deepEqual(seen.slice(0, 4), ['first', 'in_order', 'in_order', 'ahead']);
  assert.equal(seen[6], 'duplicate', 'a retry of 4');
  assert.equal(seen[7], 'duplicate', 'a re-delivery below the prefix');
  assert.deepEqual(t.openGaps('p'), []);
  assert.deepEqual(t.due(10_000_000), []);
});

test('a gap is reported once, after the grace, with the exact range; a late copy of the range is then a duplicate', () => {
  const t = new LossTracker(opts);
  for (const s of [0, 1, 2]) t.observe('p', s, 1000, `e${s}`);
  t.observe('p', 5, 2000, 'e5');
  t.observe('p', 6, 2500, 'e6');
  t.observe('p', 9, 3000, 'e9');
  assert.deepEqual(t.openGaps('p'), [
    [3, 4],
    [7, 8],
  ]);
  assert.deepEqual(t.due(2000 + 59_999), [], 'within the grace: maybe still in flight on another partition');
  t.observe('p', 8, 4000, 'e8');
  assert.deepEqual(t.due(2000 + 60_000), [{ producer_id: 'p', from: 3, to: 4, after_at: 2000, after_event_id: 'e5' }]);
  assert.deepEqual(t.openGaps('p'), [[7, 7]]);
  assert.deepEqual(t.due(2000 + 60_000), [], 'once');
  assert.deepEqual(t.due(3000 + 60_000), [{ producer_id: 'p', from: 7, to: 7, after_at: 4000, after_event_id: 'e8' }]);
  assert.equal(t.observe('p', 4, 70_000, 'e4'), 'duplicate', 'arrived after it was reported');
  assert.deepEqual(t.due(1_000_000), []);
});

test('a restart is a new producer id: no gap; a producer first seen mid-stream starts from its first number', () => {
  const t = new LossTracker(opts);
  for (const s of [0, 1, 2, 3]) t.observe('p1', s, 1000, 'x');
  for (const s of [0, 1]) t.observe('p2', s, 2000, 'y');
  t.observe('p3', 1_000, 2000, 'z');
  t.observe('p3', 1_001, 2000, 'z');
  assert.deepEqual(t.due(10_000_000), []);
});

test('gaps are per producer; more held numbers than maxAhead report without waiting; silent producers are forgotten', () => {
  const t = new LossTracker({ ...opts, maxAhead: 3 });
  t.observe('a', 0, 0, 'a0');
  t.observe('b', 0, 0, 'b0');
  for (const s of [2, 3, 4, 5]) t.observe('a', s, 10, `a${s}`);
  t.observe('b', 1, 10, 'b1');
  assert.deepEqual(t.due(20), [{ producer_id: 'a', from: 1, to: 1, after_at: 10, after_event_id: 'a2' }]);
  assert.equal(t.size(), 2);
  t.due(10 + 3_600_001);
  assert.equal(t.size(), 0);
});
