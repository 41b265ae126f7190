import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ev, oneRule, T0, testEngine } from '../testing.js';
import { parseRules } from './parse.js';

const rule = oneRule(`id: event_loss
type: event_loss
severity: high
event_loss: { grace_s: 60 }`);
const P = '01890f5c-3b2a-7cde-8f01-000000000001';
/** The wall clock of testEngine: an hour after T0. */
const WALL = T0 + 3_600_000;
const at = (s: number, seq: number, over: Record<string, unknown> = {}) => ev({ producer_id: P, producer_seq: seq, ...over }, T0 + s * 1000);

test('a skipped number fires one event_loss alert naming the producer and the range, in the operator tenant', () => {
  const { engine, fired } = testEngine(rule);
  for (let i = 0; i < 5; i++) engine.process(at(i, i, { tenant_id: i % 2 ? 'acme' : 'globex' }));
  for (let i = 7; i < 100; i++) engine.process(at(i, i));
  engine.tick(WALL, true);
  assert.equal(fired().length, 0, 'the grace starts when the consumer is caught up');
  engine.tick(WALL + 60_000, true);
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
  engine.tick(WALL + 600_000, true);
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
  engine.tick(T0, true); // caught up before the events: live traffic
  engine.process(at(0, 0));
  engine.process(at(1, 2));
  engine.tick(T0 + 30_000, true);
  assert.equal(fired().length, 0);
  engine.tick(T0 + 70_000, true);
  assert.equal(fired().length, 1);
});

/**
 * A backlog as kafkajs reads it: one producer's numbers 0..2N-1 alternate between partitions A
 * (even) and B (odd), 50 ms apart; A's whole batch is handed over long before B's, with ticks in
 * between (behind: the consumer has lag).
 */
function backlog(engine: ReturnType<typeof testEngine>['engine'], n: number, withheld: ReadonlySet<number> = new Set()) {
  for (const part of [0, 1]) {
    for (let seq = part; seq < 2 * n; seq += 2) {
      if (!withheld.has(seq)) engine.process(at(seq / 20, seq));
      if (seq % 500 === part) engine.tick(WALL, false);
    }
    engine.tick(WALL, false);
  }
}

test('a backlog read one partition at a time raises nothing, behind or once caught up', () => {
  const { engine, fired } = testEngine(rule);
  backlog(engine, 4000); // event time runs 400 s past the first hole while B is unread
  assert.equal(fired().length, 0, 'behind');
  for (const s of [0, 60, 600]) engine.tick(WALL + s * 1000, true);
  assert.equal(fired().length, 0, 'caught up');
});

test('a number really missing from a backlog fires exactly once, a grace after catching up', () => {
  const { engine, fired } = testEngine(rule);
  backlog(engine, 4000, new Set([3001]));
  assert.equal(fired().length, 0, 'not judged while behind');
  engine.tick(WALL, true);
  engine.tick(WALL + 59_000, true);
  assert.equal(fired().length, 0, 'in flight for all we know: the grace runs on the caught-up clock');
  engine.tick(WALL + 60_000, true);
  engine.tick(WALL + 600_000, true);
  const alerts = fired();
  assert.equal(alerts.length, 1, JSON.stringify(alerts.slice(0, 3).map((a) => a.details)));
  assert.deepEqual([alerts[0]!.details.missing_from, alerts[0]!.details.missing_to], ['3001', '3001']);
});

test('past the memory bound while behind, the range is skipped and counted, not reported', () => {
  const skipped: string[] = [];
  const { engine, fired } = testEngine(rule, {
    limits: { maxEventsPerKey: 1000, maxKeys: 100_000, sampleSize: 10 },
    metrics: { lossSkipped: (reason, n) => skipped.push(...Array<string>(n).fill(reason)) },
  });
  backlog(engine, 3000); // 3000 numbers of A held beyond the holes B fills later
  assert.equal(fired().length, 0, 'behind');
  assert.ok(skipped.length >= 1 && skipped.every((r) => r === 'max_ahead'), JSON.stringify(skipped));
  for (const s of [0, 60, 600]) engine.tick(WALL + s * 1000, true);
  assert.equal(fired().length, 0, 'B filled what was still checked; the skipped range is not judged');
});

test('a consumer that never catches up still reports a gap, after behind_grace_s of wall clock', () => {
  const { engine, fired } = testEngine(
    oneRule(`id: event_loss
type: event_loss
severity: high
event_loss: { grace_s: 60, behind_grace_s: 600 }`),
  );
  for (let i = 0; i < 100; i++) if (i !== 50) engine.process(at(i, i));
  engine.tick(WALL, false);
  engine.tick(WALL + 599_000, false);
  assert.equal(fired().length, 0);
  engine.tick(WALL + 600_000, false);
  engine.tick(WALL + 700_000, false);
  assert.equal(fired().length, 1);
  assert.equal(fired()[0]!.details.missing_from, '50');
});

test('event_loss refuses group_by, filter and unknown keys', () => {
  assert.throws(() => parseRules(oneRule('id: x\ntype: event_loss\ngroup_by: [service]')), /group_by must be empty/);
  assert.throws(() => parseRules(oneRule('id: x\ntype: event_loss\nfilter: { field: service, eq: a }')), /filter does not apply/);
  assert.throws(() => parseRules(oneRule('id: x\ntype: event_loss\nevent_loss: { grace: 5 }')), /grace/);
  assert.throws(() => parseRules(oneRule('id: x\ntype: event_loss\nevent_loss: { grace_s: 120, behind_grace_s: 60 }')), /at least grace_s/);
  assert.ok(parseRules(oneRule('id: x\ntype: event_loss')).rules[0]?.stream);
});
