import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ev, oneRule, T0, testEngine } from '../testing.js';

const rule = oneRule(`id: brute_force_success
type: sequence
filter: { field: action, eq: auth.login }
group_by: [actor.id]
sequence:
  window_s: 300
  steps:
    - { name: failures, count: 5, filter: { field: outcome, in: [failure, denied] } }
    - { name: success, filter: { field: outcome, eq: success } }`);

test('5 failures then a success fires; the sample holds the sequence', () => {
  const { engine, fired } = testEngine(rule);
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    const e = ev({}, T0 + i * 1000);
    ids.push(e.event_id);
    engine.process(e);
  }
  assert.equal(fired().length, 0);
  const ok = ev({ outcome: 'success' }, T0 + 10_000);
  engine.process(ok);
  assert.equal(fired().length, 1);
  assert.deepEqual(fired()[0]!.sample_event_ids, [...ids, ok.event_id]);
  assert.equal(fired()[0]!.count, 6);
  assert.equal(fired()[0]!.window_start, T0);
});

test('4 failures then a success, or a success first, do not fire', () => {
  const { engine, fired } = testEngine(rule);
  engine.process(ev({ outcome: 'success' }, T0));
  for (let i = 1; i <= 4; i++) engine.process(ev({}, T0 + i * 1000));
  engine.process(ev({ outcome: 'success' }, T0 + 6000));
  assert.equal(fired().length, 0);
  // The 5th failure comes after the success: order matters.
  engine.process(ev({}, T0 + 7000));
  assert.equal(fired().length, 0);
});

test('the whole sequence must fit the window', () => {
  const { engine, fired } = testEngine(rule);
  for (let i = 0; i < 5; i++) engine.process(ev({}, T0 + i * 1000));
  engine.process(ev({ outcome: 'success' }, T0 + 301_000));
  assert.equal(fired().length, 0);
});

test('a late failure completes a sequence that ended earlier', () => {
  const { engine, fired } = testEngine(rule, { allowed_lateness_ms: 30_000 });
  for (let i = 1; i <= 4; i++) engine.process(ev({}, T0 + i * 1000));
  engine.process(ev({ outcome: 'success' }, T0 + 20_000));
  assert.equal(fired().length, 0);
  engine.process(ev({}, T0 + 500));
  assert.equal(fired().length, 1);
  assert.equal(fired()[0]!.window_start, T0 + 500);
});
