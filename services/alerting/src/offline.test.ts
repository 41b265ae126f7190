import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '@auditstream/core';
import { parseNdjson, runRulesOffline } from './offline.js';
import { loadRulesFile } from './rules/parse.js';

test('rules test: NDJSON events (any order, ISO times) through the default rules', () => {
  const t0 = Date.parse('2026-03-04T10:00:00Z');
  const lines = [];
  for (let i = 5; i >= 0; i--) {
    lines.push(
      JSON.stringify({ tenant_id: 'acme', occurred_at: new Date(t0 + i * 1000).toISOString(), actor: { id: 'bob' }, action: 'auth.login', outcome: 'failure' }),
    );
  }
  lines.push('', JSON.stringify({ tenant_id: 'acme', occurred_at: (t0 + 9000) * 1000, actor: { id: 'bob' }, action: 'auth.login', outcome: 'success' }));
  const res = runRulesOffline(parseNdjson(lines.join('\n')), loadRulesFile(join(repoRoot(), 'deploy/rules/default.yaml')));
  assert.deepEqual(res.alerts.map((a) => a.rule_id).sort(), ['brute_force', 'brute_force_success']);
  assert.equal(res.alerts.find((a) => a.rule_id === 'brute_force')?.count, 6);
  assert.equal(res.evaluated, 7);
  assert.throws(() => parseNdjson('{"a":1}\n{oops\n', 'events.ndjson'), /events\.ndjson line 2: not valid JSON/);
});
