import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ev, oneRule, T0, testEngine } from '../testing.js';

const rule = oneRule(`id: brute_force
type: threshold
filter: { all: [ { field: action, eq: auth.login }, { field: outcome, in: [failure, denied] } ] }
group_by: [actor.id]
threshold: { count: 6, window_s: 60 }`);

test('6 failures within 60 s fire exactly one alert; 5 do not', () => {
  const { engine, fired } = testEngine(rule);
  for (let i = 0; i < 5; i++) engine.process(ev({}, T0 + i * 10_000));
  assert.equal(fired().length, 0);
  engine.process(ev({}, T0 + 50_000));
  assert.equal(fired().length, 1);
  const a = fired()[0]!;
  assert.equal(a.rule_id, 'brute_force');
  assert.equal(a.count, 6);
  assert.equal(a.window_start, T0);
  assert.equal(a.first_event_at, T0);
  assert.equal(a.last_event_at, T0 + 50_000);
  assert.equal(a.group_key, 'tenant_id=acme&actor.id=alice');
  assert.deepEqual(a.group, { tenant_id: 'acme', 'actor.id': 'alice' });
  assert.equal(a.sample_event_ids.length, 6);
});

test('the window slides: 6 failures spread over more than 60 s do not fire', () => {
  const { engine, fired } = testEngine(rule);
  for (let i = 0; i < 6; i++) engine.process(ev({}, T0 + i * 12_001));
  assert.equal(fired().length, 0);
  engine.process(ev({}, T0 + 72_001)); // window [12001, 72001] now holds 6
  assert.equal(fired().length, 1);
  assert.equal(fired()[0]!.window_start, T0 + 12_001);
});

test('repeats inside the incident update it and never re-fire; a later burst is a new incident', () => {
  const { engine, deliveries, fired } = testEngine(rule);
  for (let i = 0; i < 10; i++) engine.process(ev({}, T0 + i * 1000));
  assert.equal(fired().length, 1);
  const updates = deliveries.filter((d) => d.kind === 'updated');
  assert.equal(updates.length, 4);
  assert.ok(updates.every((u) => u.alert.alert_id === fired()[0]!.alert_id));
  assert.equal(updates.at(-1)!.alert.count, 10);
  assert.equal(updates.at(-1)!.alert.version, 4);
  // Quiet for longer than the cooldown (60 s after the last event), then a new burst.
  for (let i = 0; i < 6; i++) engine.process(ev({}, T0 + 200_000 + i * 1000));
  assert.equal(fired().length, 2);
  assert.notEqual(fired()[1]!.alert_id, fired()[0]!.alert_id);
});

test('group keys are separate, and per tenant', () => {
  const { engine, fired } = testEngine(rule);
  for (let i = 0; i < 3; i++) {
    engine.process(ev({ actor: { id: 'a' } }, T0 + i));
    engine.process(ev({ actor: { id: 'b' } }, T0 + i));
    engine.process(ev({ actor: { id: 'a' }, tenant_id: 'other' }, T0 + i));
  }
  for (let i = 3; i < 6; i++) engine.process(ev({ actor: { id: 'a' } }, T0 + i));
  assert.equal(fired().length, 1);
  assert.equal(fired()[0]!.group_key, 'tenant_id=acme&actor.id=a');
});

test('non-matching events are not counted', () => {
  const { engine, fired } = testEngine(rule);
  for (let i = 0; i < 10; i++) engine.process(ev({ outcome: 'success' }, T0 + i));
  for (let i = 0; i < 5; i++) engine.process(ev({}, T0 + 10 + i));
  assert.equal(fired().length, 0);
});

test('out-of-order events within the lateness are counted where they belong', () => {
  const { engine, fired } = testEngine(rule, { allowed_lateness_ms: 30_000 });
  const times = [10, 20, 30, 40, 50].map((s) => T0 + s * 1000);
  for (const t of times) engine.process(ev({}, t));
  engine.process(ev({}, T0 + 75_000)); // newest; window with the 5 above is > 60 s
  assert.equal(fired().length, 0);
  engine.process(ev({}, T0 + 55_000)); // late by 20 s: [10..55] holds 6 events
  assert.equal(fired().length, 1);
  assert.equal(fired()[0]!.window_start, T0 + 10_000);
});
