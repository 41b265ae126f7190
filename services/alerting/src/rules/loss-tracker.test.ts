import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LossTracker } from './loss-tracker.js';

const opts = { graceMs: 60_000, behindGraceMs: 3_600_000, forgetMs: 3_600_000, maxProducers: 100, maxAhead: 1000 };
/** Caught up throughout (the stretch starting before any event), at wall time 0. */
const up = { caughtUp: true, wallMs: 0 };
const behind = (wallMs: number) => ({ caughtUp: false, wallMs });
function caughtUpTracker(o = opts): LossTracker {
  const t = new LossTracker(o);
  t.due(Number.NEGATIVE_INFINITY, up);
  return t;
}

test('in-order, shuffled and repeated numbers leave no gap', () => {
  const t = caughtUpTracker();
  const order = [0, 1, 2, 5, 3, 4, 4, 2, 6, 9, 8, 7, 7, 10];
  const seen = order.map((s, i) => t.observe('p', s, 1000 + i, `e${s}`));
  assert.deepEqual(seen.slice(0, 4), ['first', 'in_order', 'in_order', 'ahead']);
  assert.equal(seen[6], 'duplicate', 'a retry of 4');
  assert.equal(seen[7], 'duplicate', 'a re-delivery below the prefix');
  assert.deepEqual(t.openGaps('p'), []);
  assert.deepEqual(t.due(10_000_000, up), []);
});

test('a gap is reported once, after the grace, with the exact range; a late copy of the range is then a duplicate', () => {
  const t = caughtUpTracker();
  for (const s of [0, 1, 2]) t.observe('p', s, 1000, `e${s}`);
  t.observe('p', 5, 2000, 'e5');
  t.observe('p', 6, 2500, 'e6');
  t.observe('p', 9, 3000, 'e9');
  assert.deepEqual(t.openGaps('p'), [
    [3, 4],
    [7, 8],
  ]);
  assert.deepEqual(t.due(2000 + 59_999, up), [], 'within the grace: maybe still in flight on another partition');
  t.observe('p', 8, 4000, 'e8');
  assert.deepEqual(t.due(2000 + 60_000, up), [{ producer_id: 'p', from: 3, to: 4, after_at: 2000, after_event_id: 'e5' }]);
  assert.deepEqual(t.openGaps('p'), [[7, 7]]);
  assert.deepEqual(t.due(2000 + 60_000, up), [], 'once');
  assert.deepEqual(t.due(3000 + 60_000, up), [{ producer_id: 'p', from: 7, to: 7, after_at: 4000, after_event_id: 'e8' }]);
  assert.equal(t.observe('p', 4, 70_000, 'e4'), 'duplicate', 'arrived after it was reported');
  assert.deepEqual(t.due(1_000_000, up), []);
});

test('a restart is a new producer id: no gap; a producer first seen mid-stream starts from its first number', () => {
  const t = caughtUpTracker();
  for (const s of [0, 1, 2, 3]) t.observe('p1', s, 1000, 'x');
  for (const s of [0, 1]) t.observe('p2', s, 2000, 'y');
  t.observe('p3', 1_000, 2000, 'z');
  t.observe('p3', 1_001, 2000, 'z');
  assert.deepEqual(t.due(10_000_000, up), []);
});

test('gaps are per producer; more held numbers than maxAhead report without waiting; silent producers are forgotten', () => {
  const t = caughtUpTracker({ ...opts, maxAhead: 3 });
  t.observe('a', 0, 0, 'a0');
  t.observe('b', 0, 0, 'b0');
  for (const s of [2, 3, 4, 5]) t.observe('a', s, 10, `a${s}`);
  t.observe('b', 1, 10, 'b1');
  assert.deepEqual(t.due(20, up), [{ producer_id: 'a', from: 1, to: 1, after_at: 10, after_event_id: 'a2' }]);
  assert.equal(t.size(), 2);
  t.due(10 + 3_600_001, up);
  assert.equal(t.size(), 0);
});

test('behind, no gap is judged on the event-time clock; caught up, a gap left by the backlog gets a full grace', () => {
  const t = new LossTracker(opts);
  // Partition A's batch (even numbers) long before partition B's (odd ones).
  for (let s = 0; s < 400; s += 2) t.observe('p', s, s * 1000, `e${s}`);
  assert.deepEqual(t.due(400_000, behind(0)), [], 'event time ran 400 s past the first hole, but B is unread');
  for (let s = 1; s < 400; s += 2) if (s !== 201) t.observe('p', s, s * 1000, `e${s}`);
  assert.deepEqual(t.openGaps('p'), [[201, 201]]);
  assert.deepEqual(t.due(1_000_000, up), [], 'caught up: the grace starts now');
  assert.deepEqual(t.due(1_059_999, up), []);
  assert.deepEqual(t.due(1_060_000, up), [{ producer_id: 'p', from: 201, to: 201, after_at: 202_000, after_event_id: 'e202' }]);
  assert.deepEqual(t.due(2_000_000, up), [], 'once');
});

test('falling behind again restarts the caught-up stretch', () => {
  const t = new LossTracker(opts);
  for (const s of [0, 2]) t.observe('p', s, 0, `e${s}`);
  assert.deepEqual(t.due(100_000, up), []);
  assert.deepEqual(t.due(130_000, behind(0)), []);
  assert.deepEqual(t.due(170_000, up), [], 'caught up for 0 s of this stretch');
  assert.equal(t.due(230_000, up).length, 1);
});

test('behind past maxAhead: the range is skipped (counted), checking resumes after the highest number seen', () => {
  const t = new LossTracker({ ...opts, maxAhead: 3 });
  t.observe('p', 0, 0, 'e0');
  for (const s of [2, 4, 6, 8]) t.observe('p', s, s, `e${s}`);
  assert.deepEqual(t.openGaps('p'), [], 'held numbers dropped');
  assert.deepEqual(t.takeSkips(), [{ reason: 'max_ahead', count: 1 }]);
  assert.deepEqual(t.takeSkips(), [], 'taken once');
  for (const s of [1, 3, 5, 7]) assert.equal(t.observe('p', s, s, `e${s}`), 'duplicate', 'below the fresh baseline');
  t.observe('p', 9, 9, 'e9');
  t.observe('p', 11, 11, 'e11');
  assert.deepEqual(t.openGaps('p'), [[10, 10]], 'numbers after the baseline are checked again');
  assert.deepEqual(t.due(0, up), []);
  assert.deepEqual(t.due(60_011, up), [{ producer_id: 'p', from: 10, to: 10, after_at: 11, after_event_id: 'e11' }]);
});

test('a consumer that never catches up reports the lowest gap after behindGraceMs of wall clock, one range at a time', () => {
  const t = new LossTracker(opts);
  for (const s of [0, 1, 3, 4, 6]) t.observe('p', s, s, `e${s}`);
  assert.deepEqual(t.due(10_000_000, behind(5_000)), []);
  assert.deepEqual(t.due(10_000_000, behind(5_000 + 3_599_999)), []);
  assert.deepEqual(t.due(10_000_000, behind(5_000 + 3_600_000)), [{ producer_id: 'p', from: 2, to: 2, after_at: 3, after_event_id: 'e3' }]);
  assert.deepEqual(t.due(10_000_000, behind(5_000 + 7_199_999)), [], 'the next range has its own wait');
  assert.deepEqual(t.due(10_000_000, behind(5_000 + 7_200_000)), [{ producer_id: 'p', from: 5, to: 5, after_at: 6, after_event_id: 'e6' }]);
});

test('a producer evicted past maxProducers with a gap open is counted as skipped', () => {
  const t = new LossTracker({ ...opts, maxProducers: 1 });
  t.observe('a', 0, 0, 'a0');
  t.observe('a', 2, 0, 'a2');
  t.observe('b', 0, 0, 'b0');
  t.observe('c', 0, 0, 'c0');
  assert.deepEqual(t.takeSkips(), [{ reason: 'max_producers', count: 1 }], 'a had a gap, b none');
});
