import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ev, oneRule, T0, testEngine } from '../testing.js';
import { parseRules } from './parse.js';

const bruteForce = (extra: string) =>
  oneRule(`id: brute_force
type: threshold
filter: { field: outcome, eq: failure }
group_by: [actor.id]
threshold: { count: 6, window_s: 60 }
${extra}`);

test('suppress: allowlisted actors, IPs and CIDR blocks (IPv4 and IPv6) are ignored by the rule and counted', () => {
  const allowed: string[] = [];
  const { engine, fired } = testEngine(bruteForce('suppress: { actors: [scanner], ips: [198.51.100.7, 10.0.0.0/8, "2001:db8::/32"] }'), {
    metrics: { allowlisted: (id) => allowed.push(id) },
  });
  const burst = (actor: Record<string, unknown>, at: number) => {
    for (let i = 0; i < 6; i++) engine.process(ev({ actor }, at + i * 1000));
  };
  burst({ id: 'scanner', ip: '203.0.113.1' }, T0);
  burst({ id: 'bob', ip: '198.51.100.7' }, T0);
  burst({ id: 'carol', ip: '10.20.30.40' }, T0);
  burst({ id: 'dave', ip: '2001:db8::1' }, T0);
  assert.equal(fired().length, 0);
  assert.equal(allowed.length, 24);
  assert.ok(allowed.every((id) => id === 'brute_force'));
  // Not on the list: a neighbouring address, another IPv6 block, an actor without an IP.
  burst({ id: 'erin', ip: '198.51.100.8' }, T0);
  burst({ id: 'frank', ip: '2001:db9::1' }, T0);
  burst({ id: 'grace', ip: undefined }, T0);
  assert.deepEqual(
    fired()
      .map((a) => a.group['actor.id'])
      .sort(),
    ['erin', 'frank', 'grace'],
  );
});

test('suppress and min_sources: bad entries are errors naming the field', () => {
  const bad = (extra: string) => () => parseRules(bruteForce(extra));
  assert.throws(bad('suppress: { ips: [10.0.0.0/33] }'), /rule "brute_force": suppress\.ips\[0\] has an invalid prefix length \(0-32\)/);
  assert.throws(bad('suppress: { ips: [not-an-ip] }'), /suppress\.ips\[0\] must be an IP address or a CIDR block/);
  assert.throws(bad('suppress: { users: [x] }'), /suppress\.users is not a known key/);
  assert.throws(bad('suppress: {}'), /suppress needs actors or ips/);
  assert.throws(bad('min_sources: { field: actor.ip, count: 0 }'), /min_sources\.count must be a positive integer/);
  assert.throws(
    () => parseRules(oneRule('id: m\ntype: match\nmin_sources: { field: actor.ip, count: 2 }')),
    /rule "m": min_sources applies to threshold and sequence rules only/,
  );
});

test('min_sources on a threshold: six failures from one IP do not fire, from three distinct IPs they do', () => {
  const { engine, fired } = testEngine(bruteForce('min_sources: { field: actor.ip, count: 3 }'));
  for (let i = 0; i < 8; i++) engine.process(ev({ actor: { id: 'bob', ip: '10.0.0.1' } }, T0 + i * 1000));
  assert.equal(fired().length, 0);
  for (let i = 0; i < 6; i++) engine.process(ev({ actor: { id: 'carol', ip: `10.0.0.${i % 3}` } }, T0 + 10_000 + i * 1000));
  assert.equal(fired().length, 1);
  assert.equal(fired()[0]!.group['actor.id'], 'carol');
});
