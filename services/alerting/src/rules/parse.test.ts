import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { AuditstreamError, repoRoot } from '@auditstream/core';
import { oneRule } from '../testing.js';
import { loadRulesFile, parseRules } from './parse.js';

const rulesErr = (re: RegExp) => (err: unknown) => err instanceof AuditstreamError && err.code === 'RULES_INVALID' && re.test(err.message);

test('the shipped default rules parse, with every rule type', () => {
  const set = loadRulesFile(join(repoRoot(), 'deploy/rules/default.yaml'));
  assert.deepEqual(
    set.rules.map((r) => r.id),
    [
      'brute_force',
      'password_spraying',
      'brute_force_success',
      'privilege_escalation',
      'audit_tampering',
      'mass_data_export',
      'admin_after_hours',
      'silent_producer',
      'event_loss',
    ],
  );
  assert.deepEqual(new Set(set.rules.map((r) => r.type)), new Set(['threshold', 'distinct', 'sequence', 'match', 'absence', 'event_loss']));
  assert.match(readFileSync(join(repoRoot(), 'docs/alerting.md'), 'utf8'), /brute_force/);
});

test('validation errors name the rule id and the field', () => {
  const cases: Array<[string, RegExp]> = [
    ['id: brute_force\ntype: threshold\nthreshold: { count: 0, window_s: 60 }', /rule "brute_force": threshold\.count must be a positive integer/],
    ['id: brute_force\ntype: threshold\nthreshold: { count: 2.5, window_s: 60 }', /rule "brute_force": threshold\.count must be a positive integer/],
    ['id: bf\ntype: threshold', /rule "bf": threshold is required for a threshold rule/],
    ['id: bf\ntype: thresold\nthreshold: {}', /rule "bf": type must be one of match, threshold/],
    ['id: bf\ntype: match\nseverity: urgent', /rule "bf": severity must be one of info, low, medium, high, critical/],
    ['id: bf\ntype: match\nfilter: { field: action, regex: "[" }', /rule "bf": filter\.regex is not a valid regular expression/],
    ['id: bf\ntype: distinct\ndistinct: { field: actor.id, count: 3 }', /rule "bf": distinct\.window_s must be a positive number/],
    ['id: bf\ntype: sequence\nsequence: { window_s: 60, steps: [ { filter: { field: a, eq: b } } ] }', /rule "bf": sequence\.steps must have at least 2 items/],
    ['id: bf\ntype: match\nthreshold: { count: 1, window_s: 1 }', /rule "bf": threshold is set but the rule's type is match/],
    ['id: bf\ntype: match\ngroup_by: [tenant_id]', /rule "bf": group_by must not list tenant_id/],
    ['id: Bad-Id\ntype: match', /rule "Bad-Id": id must be lowercase letters/],
    ['type: match', /rules\[0\]: id is required/],
    ['id: bf\ntype: match\nwindow: 5', /rule "bf": window is not a known key/],
    [
      'id: bf\ntype: absence\ngroup_by: [service]\nabsence: { for_s: 60, expected: [ { tenant_id: a } ] }',
      /rule "bf": absence\.expected\[0\]\.service is required/,
    ],
    ['id: bf\ntype: new_value\nnew_value: { field: actor.ip, ttl_s: -1 }', /rule "bf": new_value\.ttl_s must be a positive number/],
  ];
  for (const [rule, re] of cases) assert.throws(() => parseRules(oneRule(rule)), rulesErr(re), rule);
});

test('every bad rule is reported, duplicates too; file-level problems are named', () => {
  const yaml = `version: 1
rules:
  - { id: a, type: threshold, threshold: { count: 0, window_s: 1 } }
  - { id: b, type: match }
  - { id: b, type: match }
`;
  assert.throws(
    () => parseRules(yaml),
    (err: unknown) => {
      const errors = (err as AuditstreamError).details?.errors as string[];
      return errors.length === 2 && /rule "a": threshold\.count/.test(errors[0] as string) && /rule "b": id is used by another rule/.test(errors[1] as string);
    },
  );
  assert.throws(() => parseRules('version: 2\nrules: []\n'), rulesErr(/version must be 1/));
  assert.throws(() => parseRules('version: 1\nrules: [\n'), rulesErr(/not valid YAML at line/));
  assert.throws(() => parseRules('version: 1\nrulez: []\n'), rulesErr(/rulez is not a known key/));
  assert.throws(() => parseRules('version: 1\ndefaults: { timezone: Nowhere/Land }\nrules: []\n'), rulesErr(/defaults\.timezone must be an IANA/));
});

test('disabled rules are validated but not loaded; fingerprints are stable', () => {
  const yaml = oneRule('id: a\ntype: match\nenabled: false');
  assert.equal(parseRules(yaml).rules.length, 0);
  const y2 = oneRule('id: a\ntype: threshold\nthreshold: { count: 3, window_s: 10 }');
  assert.equal(parseRules(y2).rules[0]?.fingerprint, parseRules(y2).rules[0]?.fingerprint);
  assert.notEqual(parseRules(y2).rules[0]?.fingerprint, parseRules(y2.replace('count: 3', 'count: 4')).rules[0]?.fingerprint);
});
