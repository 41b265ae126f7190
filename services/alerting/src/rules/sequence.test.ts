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

test('failure/success alternating five times does not fire: a success ends the run of failures', () => {
  const { engine, deliveries } = testEngine(rule);
  for (let i = 0; i < 10; i++) engine.process(ev({ outcome: i % 2 === 0 ? 'failure' : 'success' }, T0 + i * 1000));
  assert.equal(deliveries.length, 0);
  // Four failures, a success, four failures, a success: still no run of five.
  for (let i = 0; i < 10; i++) engine.process(ev({ outcome: i % 5 === 4 ? 'success' : 'failure' }, T0 + 20_000 + i * 1000));
  assert.equal(deliveries.length, 0);
});

test('reset: false keeps the old reading (any N failures in the window before a success)', () => {
  const { engine, fired } = testEngine(rule.replace('window_s: 300', 'window_s: 300\n      reset: false'));
  for (let i = 0; i < 10; i++) engine.process(ev({ outcome: i % 2 === 0 ? 'failure' : 'success' }, T0 + i * 1000));
  assert.equal(fired().length, 1);
});

test('the alert counts the whole run of failures; a second success right after neither fires nor updates', () => {
  const { engine, deliveries } = testEngine(rule);
  for (let i = 0; i < 8; i++) engine.process(ev({}, T0 + i * 1000));
  engine.process(ev({ outcome: 'success' }, T0 + 9000));
  engine.process(ev({ outcome: 'success' }, T0 + 10_000));
  assert.equal(deliveries.length, 1);
  assert.equal(deliveries[0]!.kind, 'fired');
  assert.equal(deliveries[0]!.alert.count, 9);
  assert.equal(deliveries[0]!.alert.window_start, T0);
});

test('a takeover inside an open benign incident fires a new alert; later ordinary logins do not renew the benign incident', () => {
  const { engine, deliveries } = testEngine(rule);
  // Benign: alice mistypes five times from her own IP, then gets in.
  for (let i = 0; i < 5; i++) engine.process(ev({}, T0 + i * 1000));
  engine.process(ev({ outcome: 'success' }, T0 + 6000));
  assert.equal(deliveries.length, 1);
  const benign = deliveries[0]!.alert;
  // She keeps logging in (a success every 20 s, an occasional typo) ...
  for (let s = 30; s < 120; s += 20) {
    engine.process(ev({ outcome: s % 40 === 10 ? 'failure' : 'success' }, T0 + s * 1000));
  }
  assert.equal(deliveries.length, 1, 'no updates from ordinary logins');
  // ... then, inside the benign incident's cooldown, 8 failures from a new IP and a success.
  const attacker = { ip: '203.0.113.9' };
  for (let i = 0; i < 8; i++) engine.process(ev({ actor: attacker }, T0 + 130_000 + i * 1000));
  engine.process(ev({ outcome: 'success', actor: attacker }, T0 + 139_000));
  assert.equal(deliveries.length, 2);
  const takeover = deliveries[1]!;
  assert.equal(takeover.kind, 'fired');
  assert.notEqual(takeover.alert.alert_id, benign.alert_id);
  assert.equal(takeover.alert.count, 9);
  assert.equal(takeover.alert.details.previous_alert_id, benign.alert_id);
});

test('ordinary logins after an incident neither update it nor keep it open past its trigger + cooldown', () => {
  const { engine, deliveries } = testEngine(rule);
  for (let i = 0; i < 5; i++) engine.process(ev({}, T0 + i * 1000));
  engine.process(ev({ outcome: 'success' }, T0 + 6000));
  assert.equal(engine.openIncidents().length, 1);
  // 12 minutes of ordinary logins, one every 30 s, a typo now and then.
  for (let s = 30; s <= 720; s += 30) {
    engine.process(ev({ outcome: s % 150 === 0 ? 'failure' : 'success' }, T0 + s * 1000));
    if (s === 330) assert.equal(engine.openIncidents().length, 0, 'closed 300 s after the trigger (+ lateness)');
  }
  assert.equal(deliveries.length, 1, 'no updates');
});

test('min_sources: the run must come from enough distinct source IPs', () => {
  const distributed = rule.replace('group_by: [actor.id]', 'group_by: [actor.id]\n    min_sources: { field: actor.ip, count: 3 }');
  const { engine, fired } = testEngine(distributed);
  for (let i = 0; i < 6; i++) engine.process(ev({}, T0 + i * 1000));
  engine.process(ev({ outcome: 'success' }, T0 + 7000));
  assert.equal(fired().length, 0, 'one source: no alert');
  for (let i = 0; i < 6; i++) engine.process(ev({ actor: { ip: `198.51.100.${i % 3}` } }, T0 + 10_000 + i * 1000));
  engine.process(ev({ outcome: 'success' }, T0 + 17_000));
  assert.equal(fired().length, 1);
});

test('restart: replaying a benign incident and a takeover re-fires neither; a takeover missed by a crash is delivered once', () => {
  const attacker = { ip: '203.0.113.9' };
  const events = [
    ...Array.from({ length: 5 }, (_, i) => ev({}, T0 + i * 1000)),
    ev({ outcome: 'success' }, T0 + 6000),
    ...Array.from({ length: 8 }, (_, i) => ev({ actor: attacker }, T0 + 60_000 + i * 1000)),
    ev({ outcome: 'success', actor: attacker }, T0 + 69_000),
  ];
  const first = testEngine(rule);
  for (const e of events) first.engine.process(e);
  const [benign, takeover] = first.fired();
  assert.ok(benign && takeover);

  // Both delivered before the restart: the replay delivers nothing.
  const second = testEngine(rule);
  second.engine.seedDelivered(benign);
  second.engine.seedDelivered(takeover);
  second.engine.beginReplay(600_000);
  for (const e of events) second.engine.process(e);
  second.engine.endReplay();
  assert.equal(second.deliveries.length, 0);

  // Only the benign alert was delivered (crash before the takeover went out): the takeover fires once.
  const third = testEngine(rule);
  third.engine.seedDelivered(benign);
  third.engine.beginReplay(600_000);
  for (const e of events) third.engine.process(e);
  third.engine.endReplay();
  assert.deepEqual(
    third.deliveries.map((d) => [d.kind, d.alert.alert_id]),
    [['fired', takeover.alert_id]],
  );
});
