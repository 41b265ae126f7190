import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { alertId, cleanText } from './alert.js';
import { alertingSection } from './config.js';
import { ev, oneRule, T0, testEngine } from './testing.js';

const bruteForce = oneRule(`id: brute_force
type: threshold
filter: { field: outcome, eq: failure }
group_by: [actor.id]
threshold: { count: 6, window_s: 60 }
summary: "{count} failed logins for {group.actor.id} from {actor.ip}"`);

test('alert ids are deterministic per rule, group key and window start, UUID-shaped', () => {
  const a = alertId('brute_force', 'tenant_id=acme&actor.id=alice', T0);
  assert.equal(a, alertId('brute_force', 'tenant_id=acme&actor.id=alice', T0));
  assert.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.notEqual(a, alertId('brute_force', 'tenant_id=acme&actor.id=alice', T0 + 1));
  assert.notEqual(a, alertId('brute_force', 'tenant_id=acme&actor.id=bob', T0));
  assert.notEqual(a, alertId('other', 'tenant_id=acme&actor.id=alice', T0));

  // Two engines fed the same events, in different arrival order, agree on the id.
  const events = Array.from({ length: 6 }, (_, i) => ev({}, T0 + i * 1000));
  const one = testEngine(bruteForce);
  for (const e of events) one.engine.process(e);
  const two = testEngine(bruteForce);
  for (const e of [events[1], events[0], events[3], events[2], events[5], events[4]]) two.engine.process(e!);
  assert.equal(one.fired()[0]!.alert_id, two.fired()[0]!.alert_id);
  assert.equal(one.fired()[0]!.alert_id, alertId('brute_force', 'tenant_id=acme&actor.id=alice', T0));
});

test('events later than the allowed lateness are dropped and counted; within it they count', () => {
  let late = 0;
  const { engine, fired } = testEngine(bruteForce, { allowed_lateness_ms: 10_000, metrics: { late: () => late++ } });
  for (let i = 0; i < 5; i++) engine.process(ev({}, T0 + 30_000 + i));
  engine.process(ev({}, T0 + 19_000)); // 11 s behind the newest: too late
  assert.equal(late, 1);
  assert.equal(fired().length, 0);
  engine.process(ev({}, T0 + 21_000)); // 9 s behind: counted
  assert.equal(fired().length, 1);
  assert.equal(fired()[0]!.window_start, T0 + 21_000);
});

test('event times far in the future are clamped to the wall clock, so they cannot stall the watermark', () => {
  let clamped = 0;
  const now = T0 + 100_000;
  const { engine } = testEngine(bruteForce, { now: () => now, max_future_skew_ms: 60_000, metrics: { futureClamped: () => clamped++ } });
  engine.process(ev({}, T0 + 86_400_000));
  assert.equal(clamped, 1);
  assert.equal(engine.watermark, now - 5000);
});

test('summaries render placeholders and strip control characters from event values', () => {
  const { engine, fired } = testEngine(bruteForce);
  for (let i = 0; i < 6; i++) engine.process(ev({ actor: { id: 'eve\u0007\nx', ip: '1.2.3.4' } }, T0 + i));
  assert.equal(fired()[0]!.summary, '6 failed logins for eve  x from 1.2.3.4');
  assert.equal(cleanText('a'.repeat(300)).length, 200);
});

test('the sample of event ids is bounded', () => {
  const { engine, deliveries } = testEngine(bruteForce);
  for (let i = 0; i < 30; i++) engine.process(ev({}, T0 + i));
  assert.equal(deliveries.at(-1)!.alert.sample_event_ids.length, 10);
  assert.equal(deliveries.at(-1)!.alert.count, 30);
});

test('replay: a delivered alert is not delivered again, its incident absorbs new events; a missed one is delivered', () => {
  const events = Array.from({ length: 8 }, (_, i) => ev({}, T0 + i * 1000));
  const first = testEngine(bruteForce);
  for (const e of events.slice(0, 7)) first.engine.process(e);
  const delivered = first.deliveries.at(-1)!.alert;

  // Restart: the alerts topic says this alert was delivered; replay the same events.
  const second = testEngine(bruteForce);
  second.engine.seedDelivered(delivered);
  second.engine.beginReplay(120_000);
  for (const e of events.slice(0, 7)) second.engine.process(e);
  second.engine.endReplay();
  assert.equal(second.deliveries.length, 0, 'nothing re-fires during replay');
  second.engine.process(events[7]!);
  assert.equal(second.fired().length, 0);
  assert.equal(second.deliveries[0]?.kind, 'updated');
  assert.equal(second.deliveries[0]?.alert.alert_id, delivered.alert_id);

  // A replay that starts after the first failures would see a different window start:
  // the seeded incident (rule + key) still absorbs it.
  const third = testEngine(bruteForce);
  third.engine.seedDelivered(delivered);
  third.engine.beginReplay(120_000);
  for (const e of events.slice(1, 8)) third.engine.process(e);
  third.engine.endReplay();
  assert.equal(third.fired().length, 0);

  // Nothing delivered before the crash: the replay delivers the missed alert once.
  const fourth = testEngine(bruteForce);
  fourth.engine.beginReplay(120_000);
  for (const e of events.slice(0, 7)) fourth.engine.process(e);
  fourth.engine.endReplay();
  assert.equal(fourth.fired().length, 1);
  assert.equal(fourth.fired()[0]!.alert_id, delivered.alert_id);
  assert.equal(fourth.deliveries.length, 1, 'updates during replay are not delivered');
});

test('events without a time, id or tenant are counted as invalid', () => {
  let invalid = 0;
  const { engine } = testEngine(bruteForce, { metrics: { invalid: () => invalid++ } });
  engine.process({ ...ev(), occurred_at: 'not a time' });
  engine.process({ ...ev(), tenant_id: '' });
  engine.process({ ...ev(), event_id: undefined as unknown as string });
  assert.equal(invalid, 3);
});

test('state is evicted behind the watermark', () => {
  const { engine } = testEngine(bruteForce);
  for (let i = 0; i < 5; i++) engine.process(ev({ actor: { id: `u${i}` } }, T0));
  assert.equal(engine.stateEntries(), 5);
  engine.process(ev({ outcome: 'success' }, T0 + 70_000));
  assert.equal(engine.stateEntries(), 0);
});

test('a duplicate event (same event_id) is counted once', () => {
  let dups = 0;
  const { engine, fired } = testEngine(bruteForce, { metrics: { duplicate: () => dups++ } });
  const e = ev({}, T0);
  for (let i = 0; i < 6; i++) engine.process(e);
  assert.equal(fired().length, 0);
  assert.equal(dups, 5);
});

describe('watermarks: one tenant cannot make another tenant late', () => {
  const defaults = alertingSection.parse({}); // the shipped configuration
  const lateness = defaults.allowed_lateness_ms;
  for (const ahead of [60_000, 299_000]) {
    test(`tenant X publishes at now + ${ahead / 1000} s; tenant Y's real-time burst alerts on time, nobody's events are late`, () => {
      let wall = T0;
      let late = 0;
      let clamped = 0;
      const { engine, fired } = testEngine(bruteForce, {
        now: () => wall,
        allowed_lateness_ms: lateness,
        max_future_skew_ms: defaults.max_future_skew_ms,
        metrics: { late: () => late++, futureClamped: () => clamped++ },
      });
      // Everybody's ordinary traffic, arriving as it happens.
      for (const tenant of ['y', 'z']) engine.process(ev({ tenant_id: tenant, outcome: 'success', actor: { id: 'u1' } }, wall), wall);
      // X: six failures dated in the future (within the SDK's 5-minute skew limit).
      for (let i = 0; i < 6; i++) engine.process(ev({ tenant_id: 'x', actor: { id: 'mallory' } }, wall + ahead + i), wall);
      assert.equal(clamped, 6, 'future times are evaluated at their arrival');
      // Y's brute force in real time, one failure per second: alerts with the 6th failure.
      for (let i = 0; i < 6; i++) {
        wall += 1000;
        engine.process(ev({ tenant_id: 'y', actor: { id: 'bob' } }, wall), wall);
        if (i < 5) assert.equal(fired().filter((a) => a.tenant_id === 'y').length, 0);
      }
      const y = fired().filter((a) => a.tenant_id === 'y');
      assert.equal(y.length, 1, "Y's burst fired");
      assert.equal(y[0]!.last_event_at, wall, 'on time: completed by the newest event');
      // Z's and X's own real-time events still count; nothing was dropped as late.
      for (const tenant of ['z', 'x']) engine.process(ev({ tenant_id: tenant, actor: { id: 'u2' } }, wall), wall);
      assert.equal(late, 0);
      assert.ok(engine.watermarkOf('y') <= wall - lateness);
    });
  }

  test('without a clamp (large skew), future times move only their own tenant: others keep their windows and are not late', () => {
    let late = 0;
    const { engine, fired } = testEngine(bruteForce, { allowed_lateness_ms: lateness, max_future_skew_ms: 300_000, metrics: { late: () => late++ } });
    const arrival = T0 + 3_600_000;
    for (let i = 0; i < 3; i++) engine.process(ev({ tenant_id: 'y', actor: { id: 'bob' } }, T0 + i * 1000), arrival);
    for (let i = 0; i < 6; i++) engine.process(ev({ tenant_id: 'x', actor: { id: 'mallory' } }, T0 + 120_000 + i), arrival);
    assert.equal(engine.watermarkOf('x'), T0 + 120_005 - lateness);
    for (let i = 3; i < 6; i++) engine.process(ev({ tenant_id: 'y', actor: { id: 'bob' } }, T0 + i * 1000), arrival);
    assert.equal(late, 0);
    assert.deepEqual(
      fired()
        .map((a) => a.tenant_id)
        .sort(),
      ['x', 'y'],
    );
    // X's own late events are late against X only.
    engine.process(ev({ tenant_id: 'x', actor: { id: 'other' } }, T0 + 6000), arrival);
    assert.equal(late, 1);
  });
});

test('updates are rate-limited per incident; the held-back update is delivered by tick with the latest state', () => {
  let wall = T0;
  const { engine, deliveries } = testEngine(bruteForce, { now: () => wall, min_update_interval_ms: 60_000 });
  for (let i = 0; i < 40; i++) {
    wall = T0 + i * 1000;
    engine.process(ev({}, wall), wall);
  }
  const kinds = deliveries.map((d) => d.kind);
  assert.deepEqual(kinds, ['fired'], 'no update within the first minute');
  wall = T0 + 66_000;
  engine.tick(wall, false);
  assert.deepEqual(
    deliveries.map((d) => d.kind),
    ['fired', 'updated'],
  );
  assert.equal(deliveries[1]!.alert.count, 40, 'the coalesced update carries every event');
  engine.tick(wall + 120_000, false);
  assert.equal(deliveries.length, 2, 'nothing pending: nothing more sent');
});

test('with encryption on, a summary placeholder of an encrypted field keeps its value in details["pii.<path>"], and the subject is named', () => {
  const { engine, fired } = testEngine(bruteForce, { pii: { fields: ['actor.ip'], subject_field: 'actor.id' } });
  for (let i = 0; i < 6; i++) engine.process(ev({}, T0 + i * 1000));
  const a = fired()[0]!;
  assert.equal(a.details['pii.actor.ip'], '10.0.0.1');
  assert.equal(a.details.subject, 'alice');
  const off = testEngine(bruteForce);
  for (let i = 0; i < 6; i++) off.engine.process(ev({}, T0 + i * 1000));
  assert.deepEqual(off.fired()[0]!.details, {}, 'nothing added without encryption');
});
