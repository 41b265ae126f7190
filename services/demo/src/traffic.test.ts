import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { type Alert, loadRulesFile, runRulesOffline } from '@auditstream/alerting';
import { repoRoot } from '@auditstream/core';
import { createEventNormalizer } from '@auditstream/producer';
import { runDemo } from './run.js';
import { type AttackInfo, createTrafficGenerator } from './traffic.js';

const defaultRules = loadRulesFile(join(repoRoot(), 'deploy/rules/default.yaml'));

/** Ten minutes of demo traffic at 20 events/s (the main job's rate), evaluated offline by the default rules. */
function simulate(t0: number, attackIntervalS: number, seed: number): { alerts: Alert[]; attacks: readonly AttackInfo[] } {
  const normalize = createEventNormalizer();
  const gen = createTrafficGenerator({ seed, attack_interval_s: attackIntervalS });
  const events = [];
  for (let ms = 0; ms < 600_000; ms += 50) events.push(normalize(gen.next(t0 + ms), t0 + ms));
  return { alerts: runRulesOffline(events as never, defaultRules).alerts, attacks: gen.attacks };
}

/** An alert is explained by an attack when it names the attack's tenant and its victim or source IP, and overlaps it in time. */
function causedBy(a: Alert, attacks: readonly AttackInfo[]): AttackInfo | undefined {
  return attacks.find(
    (x) =>
      x.tenant_id === a.tenant_id &&
      a.last_event_at >= x.started_at_ms &&
      a.window_start <= x.started_at_ms + 20_000 &&
      (a.rule_id === 'password_spraying' ? a.group['actor.ip'] === x.source_ip : x.kind === 'brute_force' && a.group['actor.id'] === x.actors[0]),
  );
}

test('generated traffic is valid, mixed, and deterministic per seed', () => {
  const normalize = createEventNormalizer();
  const a = createTrafficGenerator({ seed: 7, attack_interval_s: 0 });
  const b = createTrafficGenerator({ seed: 7, attack_interval_s: 0 });
  const now = Date.parse('2026-03-04T10:00:00Z'); // a weekday in business hours: admin actions happen
  const counts = new Map<string, number>();
  for (let i = 0; i < 5000; i++) {
    const e = a.next(now + i);
    const f = b.next(now + i);
    assert.deepEqual(e, f);
    const n = normalize(e, now + i);
    counts.set(`${n.category}/${n.outcome}`, (counts.get(`${n.category}/${n.outcome}`) ?? 0) + 1);
  }
  for (const k of [
    'authentication/success',
    'authentication/failure',
    'resource_access/success',
    'resource_access/denied',
    'configuration/success',
    'data_export/success',
    'authorization/success',
    'admin/success',
    'system/success',
  ]) {
    assert.ok((counts.get(k) ?? 0) > 0, `${k} appears`);
  }
});

test('injected attacks match the detection thresholds', () => {
  const gen = createTrafficGenerator({ seed: 3, attack_interval_s: 30, first_attack_s: 1 });
  const seen: string[] = [];
  gen.onAttack = (a) => seen.push(a.kind);
  const t0 = 1_800_000_000_000;
  const events = [];
  // 10 events/s for 70 s of simulated time
  for (let ms = 0; ms < 70_000; ms += 100) events.push(gen.next(t0 + ms));
  assert.deepEqual(seen.slice(0, 2), ['brute_force', 'password_spraying']);

  const [brute, spray] = gen.attacks;
  assert.ok(brute && spray);
  const bruteFails = events.filter(
    (e) => e.action === 'auth.login' && e.outcome === 'failure' && e.actor.id === brute.actors[0] && e.actor.ip === brute.source_ip,
  );
  assert.ok(bruteFails.length >= 6);
  const times = bruteFails.map((e) => (e.occurred_at as Date).getTime());
  assert.ok(Math.max(...times) - Math.min(...times) <= 60_000, 'within 60 s');

  const sprayFails = events.filter((e) => e.actor.ip === spray.source_ip && e.outcome === 'failure');
  assert.ok(new Set(sprayFails.map((e) => e.actor.id)).size >= 12, 'one IP failing for ≥ 12 actors');
});

test('runDemo publishes at the rate for the duration and waits for receipts', async () => {
  let published = 0;
  const producer = {
    publish: async () => {
      published++;
      return { event_id: 'x', topic: 't', partition: 0, offset: String(published) };
    },
    flush: async () => {},
  };
  const progress: number[] = [];
  const final = await runDemo({ producer, rate: 200, duration_s: 1, progress_interval_ms: 200, onProgress: (p) => progress.push(p.acked) });
  assert.ok(final.published >= 150 && final.published <= 260, `published ${final.published}`);
  assert.equal(final.acked, final.published);
  assert.equal(final.in_flight, 0);
  assert.ok(progress.length >= 3);

  const ac = new AbortController();
  setTimeout(() => ac.abort(), 100);
  const t0 = Date.now();
  await runDemo({ producer, rate: 50, duration_s: 0, signal: ac.signal });
  assert.ok(Date.now() - t0 < 1000, 'duration 0 runs until aborted');
});

test('the baseline raises no alert of the default rules (weekday daytime, and a weekend night)', () => {
  for (const [t0, seed] of [
    [Date.parse('2026-03-04T10:00:00Z'), 11],
    [Date.parse('2026-03-07T23:55:00Z'), 12],
  ] as const) {
    const { alerts } = simulate(t0, 0, seed);
    assert.deepEqual(
      alerts.map((a) => `${a.rule_id} ${a.group_key}`),
      [],
      `no alert from ordinary traffic starting ${new Date(t0).toISOString()}`,
    );
  }
});

test('every injected attack alerts, and nothing else does', () => {
  const { alerts, attacks } = simulate(Date.parse('2026-03-04T18:55:00Z'), 30, 5);
  assert.equal(attacks.length, 20);
  const unexplained = alerts.filter((a) => !causedBy(a, attacks));
  assert.deepEqual(
    unexplained.map((a) => `${a.rule_id} ${a.group_key}`),
    [],
  );
  for (const x of attacks) {
    const rules = alerts
      .filter((a) => causedBy(a, [x]))
      .map((a) => a.rule_id)
      .sort();
    const fell = x.events > x.actors.length * 8;
    const want = x.kind === 'password_spraying' ? ['password_spraying'] : fell ? ['brute_force', 'brute_force_success'] : ['brute_force'];
    assert.deepEqual(rules, want, `${x.kind} on ${x.tenant_id} from ${x.source_ip}`);
  }
});
