import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '@auditstream/core';
import { command } from './rules.js';

/** One event as GET /v1/export?format=ndjson writes it (services/api present.ts: nulls, micro-second ISO times, enrichment). */
function exported(i: number, at: number, actor: string, ip: string, outcome: string): string {
  return JSON.stringify({
    event_id: `0190c0de-0000-7000-8000-${String(i).padStart(12, '0')}`,
    tenant_id: 'acme',
    occurred_at: `${new Date(at).toISOString().slice(0, -1)}123Z`,
    actor: { id: actor, type: 'user', name: null, session_id: null, ip, user_agent: null },
    action: 'auth.login',
    category: 'authentication',
    outcome,
    reason: outcome === 'failure' ? 'invalid_password' : null,
    service: 'sso',
    host: null,
    region: null,
    resource: null,
    request_id: null,
    trace_id: null,
    severity: 'info',
    attributes: {},
    enrichment: { geo_country: '', geo_city: '', ua_browser: '', ua_os: '', ua_device: '' },
  });
}

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = console.log;
  const error = console.error;
  console.log = (...a: unknown[]) => out.push(a.join(' '));
  console.error = (...a: unknown[]) => err.push(a.join(' '));
  try {
    const code = await command.run(argv);
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    console.log = log;
    console.error = error;
  }
}

test('rules test over an export: a rule change (an allowlisted office network) removes the mistyping user and keeps the takeover', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rules-test-'));
  const t0 = Date.parse('2026-03-04T10:00:00Z');
  const lines: string[] = [];
  let i = 0;
  // A user in the office (10.1.0.5) mistypes five times, then gets in.
  for (let k = 0; k < 5; k++) lines.push(exported(i++, t0 + k * 2000, 'alice', '10.1.0.5', 'failure'));
  lines.push(exported(i++, t0 + 12_000, 'alice', '10.1.0.5', 'success'));
  // An attacker guesses bob's password from outside and succeeds.
  for (let k = 0; k < 8; k++) lines.push(exported(i++, t0 + 60_000 + k * 1000, 'bob', '203.0.113.9', 'failure'));
  lines.push(exported(i++, t0 + 69_000, 'bob', '203.0.113.9', 'success'));
  const events = join(dir, 'export.ndjson');
  writeFileSync(events, `${lines.reverse().join('\n')}\n`); // any order: the file is sorted by occurred_at

  const baseline = join(repoRoot(), 'deploy/rules/default.yaml');
  const proposed = join(dir, 'proposed.yaml');
  const text = readFileSync(baseline, 'utf8').replace('  - id: brute_force_success\n', '  - id: brute_force_success\n    suppress: { ips: [10.0.0.0/8] }\n');
  assert.notEqual(text, readFileSync(baseline, 'utf8'));
  writeFileSync(proposed, text);

  const plain = await run(['test', events, '--rules', baseline]);
  assert.equal(plain.code, 0);
  assert.match(plain.err, /^15 event\(s\) evaluated, 3 alert\(s\)$/m);

  const cmp = await run(['test', events, '--rules', proposed, '--baseline', baseline]);
  assert.equal(cmp.code, 0, cmp.err);
  assert.match(cmp.out, /^brute_force_success\s+2\s+1$/m);
  assert.match(cmp.out, /^- \S+\s+brute_force_success .* actor\.id=alice$/m);
  assert.doesNotMatch(cmp.out, /^\+ /m);
  assert.match(cmp.err, /3 alert\(s\) before, 2 after: 0 added, 1 removed/);

  const json = await run(['test', events, '--rules', proposed, '--baseline', baseline, '--json']);
  const changes = json.out.split('\n').map((l) => JSON.parse(l) as { change: string; alert: { rule_id: string; group: Record<string, string> } });
  assert.deepEqual(
    changes.map((c) => [c.change, c.alert.rule_id, c.alert.group['actor.id']]),
    [['removed', 'brute_force_success', 'alice']],
  );
});

test('rules test: a missing file or a bad option is a usage error naming it', async () => {
  await assert.rejects(run(['test']), /rules test needs an NDJSON file/);
  await assert.rejects(run(['test', '/nonexistent/export.ndjson']), (e: Error & { field?: string }) => e.message.includes('cannot read') && e.field === 'file');
  await assert.rejects(run(['test', '-', '--lateness-ms', 'x']), /--lateness-ms must be a non-negative integer/);
});
