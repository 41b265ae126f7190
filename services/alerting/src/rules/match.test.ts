import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '@auditstream/core';
import { ev, oneRule, T0, testEngine } from '../testing.js';

test('match fires per event, groups repeats into one incident for window_s', () => {
  const { engine, fired, deliveries } = testEngine(
    oneRule(`id: grants
type: match
filter: { field: action, eq: user.role.grant }
group_by: [actor.id]
match: { window_s: 600 }
summary: "{actor.id} granted {attributes.role}"`),
  );
  engine.process(ev({ action: 'user.role.grant', attributes: { role: 'admin' } }, T0));
  engine.process(ev({ action: 'user.role.grant', attributes: { role: 'owner' } }, T0 + 60_000));
  engine.process(ev({ action: 'auth.login' }, T0 + 60_000));
  assert.equal(fired().length, 1);
  assert.equal(fired()[0]!.summary, 'alice granted admin');
  assert.equal(deliveries.length, 2);
  assert.equal(deliveries[1]!.alert.count, 2);
  engine.process(ev({ action: 'user.role.grant', attributes: { role: 'admin' } }, T0 + 60_000 + 600_001));
  assert.equal(fired().length, 2);
});

test('the default rules: privilege escalation, tampering, mass export, after-hours admin', () => {
  const yaml = readFileSync(join(repoRoot(), 'deploy/rules/default.yaml'), 'utf8').replace('# timezone: Europe/Berlin', 'timezone: Europe/Berlin');
  const { engine, fired } = testEngine(yaml);
  const day = Date.parse('2026-03-04T10:00:00Z'); // Wednesday 11:00 Berlin
  engine.process(ev({ action: 'user.role.grant', category: 'authorization', outcome: 'success', attributes: { role: 'Tenant-Admin' } }, day));
  engine.process(ev({ action: 'user.role.grant', category: 'authorization', outcome: 'success', attributes: { role: 'viewer' }, actor: { id: 'x' } }, day));
  engine.process(ev({ action: 'audit.retention.update', category: 'configuration', outcome: 'denied', actor: { id: 'mallory' } }, day));
  engine.process(ev({ action: 'document.export', category: 'data_export', outcome: 'success', attributes: { record_count: '50000' } }, day));
  engine.process(ev({ action: 'document.export', category: 'data_export', outcome: 'success', attributes: { record_count: '50' }, actor: { id: 'y' } }, day));
  engine.process(ev({ action: 'tenant.settings.update', category: 'admin', outcome: 'success', actor: { id: 'ops' } }, day));
  engine.process(ev({ action: 'tenant.settings.update', category: 'admin', outcome: 'success', actor: { id: 'night' } }, Date.parse('2026-03-04T21:30:00Z')));
  assert.deepEqual(
    fired()
      .map((a) => `${a.rule_id}:${a.group['actor.id']}`)
      .sort(),
    ['admin_after_hours:night', 'audit_tampering:mallory', 'mass_data_export:alice', 'privilege_escalation:alice'],
  );
});
