import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '@auditstream/core';
import { Partitioners } from 'kafkajs';
import { keyPartition, partitionScope, routeEvent } from './route.js';
import { ev, T0, testEngine } from './testing.js';

const DEFAULT_RULES = readFileSync(join(repoRoot(), 'deploy/rules/default.yaml'), 'utf8');
const P = 6;

test("keyPartition is Kafka's key partitioning (the kafkajs default partitioner agrees)", () => {
  const partitioner = Partitioners.DefaultPartitioner();
  const partitionMetadata = Array.from({ length: P }, (_, partitionId) => ({ partitionId, leader: 0, partitionErrorCode: 0, replicas: [0], isr: [0] }));
  for (const key of ['tenant_id=acme&actor.ip=203.0.113.9', 'tenant_id=acme&actor.id=alice', 'tenant_id=ünïcode&service=x']) {
    assert.equal(keyPartition(key, P), partitioner({ topic: 't', partitionMetadata, message: { key, value: null } }));
  }
});

test('an event is copied once per distinct partition of its rule keys; an invalid one only to event_loss', () => {
  const { engine } = testEngine(DEFAULT_RULES);
  const rules = engine.rules.rules;
  const e = ev({ actor: { id: 'alice', ip: '203.0.113.9' }, producer_id: 'p-1', producer_seq: 3 });
  const keys = ['tenant_id=acme&actor.id=alice', 'tenant_id=acme&actor.ip=203.0.113.9', 'tenant_id=acme&service=idp', 'tenant_id=auditstream&producer_id=p-1'];
  const routed = routeEvent(rules, e, P);
  assert.deepEqual([...routed.keys()].sort(), [...new Set(keys.map((k) => keyPartition(k, P)))].sort());
  assert.deepEqual([...routeEvent(rules, e, P, true).keys()], [keyPartition('tenant_id=auditstream&producer_id=p-1', P)]);
  assert.equal(routeEvent(rules, ev({ tenant_id: '' }), P).size, 0, 'no tenant, no key: the engine would not evaluate it either');
});

test('engines fed only their partitions copies fire, between them, exactly what one engine fires', () => {
  // Spraying from one IP over 12 actors, brute force on one of them: keys of two kinds.
  const events = [
    ...Array.from({ length: 12 }, (_, i) => ev({ actor: { id: `user-${i}`, ip: '203.0.113.9' } }, T0 + i * 100)),
    ...Array.from({ length: 6 }, (_, i) => ev({ actor: { id: 'user-3', ip: '198.51.100.1' } }, T0 + 2000 + i * 100)),
  ];
  const one = testEngine(DEFAULT_RULES);
  for (const e of events) one.engine.process(e);

  const parts = Array.from({ length: P }, () => testEngine(DEFAULT_RULES));
  for (const e of events) {
    for (const p of routeEvent(one.engine.rules.rules, e, P).keys()) (parts[p] as (typeof parts)[number]).engine.process(e, undefined, partitionScope(p, P));
  }
  const ids = (fired: Array<{ alert_id: string }>) => fired.map((a) => a.alert_id).sort();
  const scaled = parts.flatMap((x) => x.fired());
  assert.deepEqual(ids(scaled), ids(one.fired()));
  assert.deepEqual([...new Set(one.fired().map((a) => a.rule_id))].sort(), ['brute_force', 'password_spraying']);
});

test('a clock-driven trigger fires only on the owner of its key', () => {
  const yaml = DEFAULT_RULES;
  const key = 'tenant_id=acme&service=idp';
  const owner = keyPartition(key, P);
  const run = (owns: (k: string) => boolean) => {
    const t = testEngine(yaml, { owns });
    t.engine.process(ev({ outcome: 'success' }, T0));
    t.engine.advanceTimers(T0 + 3_600_000);
    return t.fired().filter((a) => a.rule_id === 'silent_producer').length;
  };
  assert.equal(
    run((k) => keyPartition(k, P) === owner),
    1,
  );
  assert.equal(
    run((k) => keyPartition(k, P) !== owner),
    0,
    'state kept after the partition moved away never fires',
  );
});
