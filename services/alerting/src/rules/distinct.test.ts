import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ev, oneRule, T0, testEngine } from '../testing.js';

const rule = oneRule(`id: password_spraying
type: distinct
filter: { all: [ { field: outcome, eq: failure }, { field: actor.ip, exists: true } ] }
group_by: [actor.ip]
distinct: { field: actor.id, count: 10, window_s: 600 }`);

test('one IP failing for 10 distinct actors within 10 minutes fires once', () => {
  const { engine, fired, deliveries } = testEngine(rule);
  for (let i = 0; i < 9; i++) engine.process(ev({ actor: { id: `u${i}`, ip: '203.0.113.9' } }, T0 + i * 30_000));
  for (let i = 0; i < 20; i++) engine.process(ev({ actor: { id: 'u1', ip: '203.0.113.9' } }, T0 + 280_000 + i));
  assert.equal(fired().length, 0, 'repeats of one actor do not count');
  engine.process(ev({ actor: { id: 'u9', ip: '203.0.113.9' } }, T0 + 300_000));
  assert.equal(fired().length, 1);
  assert.equal(fired()[0]!.details.distinct_count, '10');
  assert.equal(fired()[0]!.group['actor.ip'], '203.0.113.9');
  engine.process(ev({ actor: { id: 'u10', ip: '203.0.113.9' } }, T0 + 310_000));
  engine.process(ev({ actor: { id: 'u11', ip: '203.0.113.9' } }, T0 + 320_000));
  assert.equal(fired().length, 1);
  assert.equal(deliveries.at(-1)!.alert.details.distinct_count, '12');
});

test('distinct values spread over more than the window do not fire; other IPs are separate', () => {
  const { engine, fired } = testEngine(rule);
  for (let i = 0; i < 12; i++) engine.process(ev({ actor: { id: `u${i}`, ip: '198.51.100.1' } }, T0 + i * 67_000));
  for (let i = 0; i < 9; i++) engine.process(ev({ actor: { id: `v${i}`, ip: '198.51.100.2' } }, T0 + 800_000 + i));
  assert.equal(fired().length, 0);
});

test('a late event completes the window it belongs to', () => {
  const { engine, fired } = testEngine(rule, { allowed_lateness_ms: 60_000 });
  for (let i = 0; i < 9; i++) engine.process(ev({ actor: { id: `u${i}`, ip: '203.0.113.7' } }, T0 + 100_000 + i * 1000));
  engine.process(ev({ actor: { id: 'u0', ip: '203.0.113.7' } }, T0 + 150_000));
  engine.process(ev({ actor: { id: 'late', ip: '203.0.113.7' } }, T0 + 95_000));
  assert.equal(fired().length, 1);
  assert.equal(fired()[0]!.window_start, T0 + 95_000);
});
