import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ev, oneRule, T0, testEngine } from '../testing.js';
import { NewValueState } from './new-value.js';

const rule = (extra = '') =>
  oneRule(`id: new_ip
type: new_value
filter: { field: outcome, eq: success }
group_by: [actor.id]
new_value: { field: actor.ip, ttl_s: 3600${extra} }`);

test('the first value is learnt; a new one fires once', () => {
  const { engine, fired } = testEngine(rule());
  engine.process(ev({ outcome: 'success' }, T0));
  engine.process(ev({ outcome: 'success' }, T0 + 1000));
  assert.equal(fired().length, 0);
  engine.process(ev({ outcome: 'success', actor: { ip: '192.0.2.5' } }, T0 + 2000));
  engine.process(ev({ outcome: 'success', actor: { ip: '192.0.2.5' } }, T0 + 3000));
  assert.equal(fired().length, 1);
  assert.equal(fired()[0]!.details.value, '192.0.2.5');
  assert.equal(fired()[0]!.group_key, 'tenant_id=acme&actor.id=alice');
  assert.match(fired()[0]!.summary, /new actor\.ip "192\.0\.2\.5"/);
});

test("alert_on_first fires for a key's first value too", () => {
  const { engine, fired } = testEngine(rule(', alert_on_first: true'));
  engine.process(ev({ outcome: 'success' }, T0));
  assert.equal(fired().length, 1);
});

test('values expire after the TTL of event time', () => {
  const { engine, fired } = testEngine(rule());
  engine.process(ev({ outcome: 'success' }, T0));
  engine.process(ev({ outcome: 'success', actor: { ip: '192.0.2.5' } }, T0 + 1000));
  assert.equal(fired().length, 1);
  engine.process(ev({ outcome: 'success' }, T0 + 2000)); // refreshes 10.0.0.1
  engine.process(ev({ outcome: 'success', actor: { ip: '192.0.2.5' } }, T0 + 1000 + 3_600_001));
  assert.equal(fired().length, 2, 'seen again after the TTL, the value is new again');
});

test('state is bounded: least recently seen pairs are dropped first', () => {
  const st = new NewValueState('actor.ip', 1e12, 3, true, { maxEventsPerKey: 10, maxKeys: 10, sampleSize: 10 });
  for (let i = 0; i < 5; i++) st.onEvent('k', T0 + i, `e${i}`, ev({ actor: { ip: `ip${i}` } }));
  assert.equal(st.size(), 3);
  assert.ok(st.onEvent('k', T0 + 10, 'x', ev({ actor: { ip: 'ip0' } })), 'ip0 was dropped, so it is new again');
  assert.equal(st.onEvent('k', T0 + 11, 'y', ev({ actor: { ip: 'ip4' } })), undefined);
});
