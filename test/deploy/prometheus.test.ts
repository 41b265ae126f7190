import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '@auditstream/core';
import { parse } from 'yaml';

const root = repoRoot();
const dir = join(root, 'deploy/prometheus');
const ruleFiles = readdirSync(join(dir, 'rules')).filter((f) => f.endsWith('.yml'));
const testFiles = readdirSync(join(dir, 'tests')).filter((f) => f.endsWith('.yml'));

function promtool(args: string[]) {
  const r = spawnSync('promtool', args, { cwd: dir, encoding: 'utf8' });
  if (r.error) throw new Error(`promtool is required for these tests (Debian package \`prometheus\`): ${r.error.message}`);
  return r;
}

interface Rule {
  alert?: string;
  record?: string;
  annotations?: Record<string, string>;
}
const alerts = ruleFiles.flatMap((f) =>
  (parse(readFileSync(join(dir, 'rules', f), 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules).filter((r) => r.alert),
);

test('promtool check rules accepts every rule file', () => {
  const r = promtool(['check', 'rules', ...ruleFiles.map((f) => join('rules', f))]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

test('promtool test rules passes', () => {
  const r = promtool(['test', 'rules', ...testFiles.map((f) => join('tests', f))]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

test('every alert is tested firing and resolved, and has a summary, description and runbook section', () => {
  const runbooks = readFileSync(join(root, 'docs/runbooks.md'), 'utf8');
  const tests = testFiles.flatMap(
    (f) => (parse(readFileSync(join(dir, 'tests', f), 'utf8')) as { tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[] }).tests,
  );
  const cases = tests.flatMap((t) => t.alert_rule_test ?? []);
  assert.ok(alerts.length >= 9);
  for (const a of alerts) {
    const name = a.alert as string;
    assert.ok(a.annotations?.summary && a.annotations?.description, `${name} lacks summary/description`);
    assert.equal(a.annotations?.runbook_url, `docs/runbooks.md#${name.toLowerCase()}`);
    assert.match(runbooks, new RegExp(`^## ${name}$`, 'm'), `docs/runbooks.md has no section for ${name}`);
    assert.ok(
      cases.some((c) => c.alertname === name && c.exp_alerts.length > 0),
      `${name} is never tested firing`,
    );
    assert.ok(
      cases.some((c) => c.alertname === name && c.exp_alerts.length === 0),
      `${name} is never tested resolved`,
    );
  }
});

test('prometheus.yml scrapes every service under an auditstream-* job and loads the rules', () => {
  const cfg = parse(readFileSync(join(dir, 'prometheus.yml'), 'utf8')) as { scrape_configs: { job_name: string }[]; rule_files: string[] };
  const jobs = cfg.scrape_configs.map((s) => s.job_name);
  for (const j of ['auditstream-ingest', 'auditstream-alerting', 'auditstream-api']) assert.ok(jobs.includes(j), `missing job ${j}`);
  assert.ok(cfg.rule_files.some((f) => f.includes('rules/')));
  const r = promtool(['check', 'config', '--syntax-only', 'prometheus.yml']);
  assert.equal(r.status, 0, r.stdout + r.stderr);
});
