import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ev, oneRule, T0, testEngine } from '../testing.js';

const rule = oneRule(`id: silent_producer
type: absence
group_by: [service]
absence:
  for_s: 900
  expected: [ { tenant_id: acme, service: payroll } ]`);

test('a service silent for 15 minutes of event time fires once, and re-arms when it speaks', () => {
  const { engine, fired } = testEngine(rule);
  engine.process(ev({ service: 'billing' }, T0));
  engine.process(ev({ service: 'idp' }, T0));
  for (let s = 60; s <= 1000; s += 60) engine.process(ev({ service: 'idp' }, T0 + s * 1000));
  engine.tick(0, false); // watermark only: newest 1000 s minus 5 s lateness
  const billing = fired().filter((a) => a.group.service === 'billing');
  assert.equal(billing.length, 1);
  assert.equal(billing[0]!.window_start, T0);
  assert.match(billing[0]!.summary, /no events from tenant_id=acme service=billing for 1[56] min/);
  engine.tick(0, false);
  assert.equal(fired().filter((a) => a.group.service === 'billing').length, 1, 'once per silence');
  assert.equal(fired().filter((a) => a.group.service === 'idp').length, 0);
  engine.process(ev({ service: 'billing' }, T0 + 1000_000));
  for (let s = 1000; s <= 2000; s += 60) engine.process(ev({ service: 'idp' }, T0 + s * 1000));
  engine.tick(0, false);
  assert.equal(fired().filter((a) => a.group.service === 'billing').length, 2, 'a new silence is a new alert');
});

test('the wall clock drives the timer only when caught up; expected keys are armed at start', () => {
  const { engine, fired } = testEngine(rule);
  engine.process(ev({ service: 'billing' }, T0));
  engine.tick(T0 + 2_000_000, false);
  assert.equal(fired().length, 0, 'behind on the stream: wall clock is not trusted');
  engine.tick(T0 + 2_000_000, true);
  assert.deepEqual(
    fired()
      .map((a) => a.group.service)
      .sort(),
    ['billing', 'payroll'],
    'payroll is expected but was never seen',
  );
});
