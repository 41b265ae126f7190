import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ev, oneRule, T0, testEngine } from '../testing.js';
import { parseRules } from './parse.js';

const rule = oneRule(`id: event_loss
type: event_loss
severity: high
event_loss: { grace_s: 60 }`);
const P = '01890f5c-3b2a-7cde-8f01-000000000001';
const at = (s: number, seq: number, over: Record<string, unknown> = {}) => ev({ producer_id: P, producer_seq: seq, ...over }, T0 + s * 1000);

test('a skipped number fires one event_loss alert naming the producer and the range, in the operator tenant', () => {
  const { engine, fired } = testEngine(rule);
  for (let i = 0; i < 5; i++) engine.process(at(i, i, { tenant_id: i % 2 ? 'acme' : 'globex' }));
  for (let i = 7; i < 100; i++) engine.process(at(i, i));
  engine.tick(0, false);
  const alerts = fired();
  assert.equal(alerts.length, 1);
  const a = alerts[0]!;
  assert.equal(a.rule_type, 'event_loss');
  assert.equal(a.tenant_id, 'auditstream');
  assert.deepEqual(a.group, { tenant_id: 'auditstream', producer_id: P });
  assert.equal(a.details.missing_from, '5');
  assert.equal(a.details.missing_to, '6');
  assert.equal(a.count, 2);
  assert.equal(a.summary, `2 event(s) of producer ${P} never arrived: numbers 5 to 6`);
  engine.tick(0, false);
  assert.equal(fired().length, 1, 'once');
});

test('retries, re-deliveries, late events and a restart (new producer id) raise nothing', () => {
  const { engine, fired } = testEngine(rule);
  for (let i = 0; i < 50; i++) engine.process(at(i, i));
  engine.process(at(10, 10)); // a Kafka re-delivery: same event again
  engine.process(at(51, 20, { event_id: 'retry-of-20' })); // a producer retry stored as another record
  engine.process(at(52, 50));
  engine.process(at(0, 51)); // late by far more than the lateness: still counted
  engine.process(ev({ producer_id: '01890f5c-3b2a-7cde-8f01-000000000002', producer_seq: 0 }, T0 + 53_000));
  for (let i = 52; i < 60; i++) engine.process(at(i + 100, i));
  engine.tick(T0 + 3_600_000, true);
  assert.deepEqual(fired(), []);
});

test('an event the gate refused as invalid still counts: it is in the DLQ, not lost', () => {
  const { engine, fired } = testEngine(rule);
  engine.process(at(0, 0));
  engine.observe(at(1, 1, { action: 'Not Valid' }), T0 + 1000);
  engine.process(at(2, 2));
  engine.tick(T0 + 3_600_000, true);
  assert.deepEqual(fired(), []);
});

test('the gap waits for the grace on the timer clock', () => {
  const { engine, fired } = testEngine(rule);
  engine.process(at(0, 0));
  engine.process(at(1, 2));
  engine.tick(T0 + 30_000, true);
  assert.equal(fired().length, 0);
  engine.tick(T0 + 70_000, true);
  assert.equal(fired().length, 1);
});

test('event_loss refuses group_by, filter and unknown keys', () => {
  assert.throws(() => parseRules(oneRule('id: x\ntype: event_loss\ngroup_by: [service]')), /group_by must be empty/);
  assert.throws(() => parseRules(oneRule('id: x\ntype: event_loss\nfilter: { field: service, eq: a }')), /filter does not apply/);
  assert.throws(() => parseRules(oneRule('id: x\ntype: event_loss\nevent_loss: { grace: 5 }')), /grace/);
  assert.ok(parseRules(oneRule('id: x\ntype: event_loss')).rules[0]?.stream);
});
