import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { AuditstreamError } from '@auditstream/core';
import { ev, oneRule, T0, testEngine } from '../testing.js';
import { createRulesReloader } from './reload.js';
import type { RuleSet } from './types.js';

const good = (count: number) =>
  oneRule(`id: brute_force
type: threshold
filter: { field: outcome, eq: failure }
group_by: [actor.id]
threshold: { count: ${count}, window_s: 60 }`);

function waitFor<T>(get: () => T | undefined, ms = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = () => {
      const v = get();
      if (v !== undefined) return resolve(v);
      if (Date.now() - started > ms) return reject(new Error('timed out'));
      setTimeout(poll, 20);
    };
    poll();
  });
}

test('hot reload: a good file swaps the rules, a bad one is rejected and the last good rules stay', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rules-'));
  const file = join(dir, 'rules.yaml');
  writeFileSync(file, good(3));
  const changes: RuleSet[] = [];
  const errors: AuditstreamError[] = [];
  const reloader = createRulesReloader({ path: file, debounce_ms: 50, onChange: (s) => changes.push(s), onError: (e) => errors.push(e) });
  try {
    assert.equal(reloader.current().rules[0]?.id, 'brute_force');
    const first = reloader.current().fingerprint;

    // Editors replace the file: write a temp file and rename it over.
    writeFileSync(join(dir, 'tmp.yaml'), good(4));
    renameSync(join(dir, 'tmp.yaml'), file);
    const set = await waitFor(() => changes[0]);
    assert.notEqual(set.fingerprint, first);
    assert.equal(reloader.current(), set);

    writeFileSync(file, good(0));
    const err = await waitFor(() => errors[0]);
    assert.match(err.message, /rule "brute_force": threshold\.count must be a positive integer/);
    assert.equal(reloader.current(), set, 'the last good rules stay active');
    assert.equal(changes.length, 1);

    writeFileSync(file, 'version: 1\nrules: [oops\n');
    await waitFor(() => errors[1]);
    assert.match(errors[1]!.message, /not valid YAML/);
    assert.equal(reloader.current(), set);
    assert.deepEqual(reloader.reload(), { ok: false, error: errors[2] });
  } finally {
    reloader.close();
  }
});

test('the first load fails loudly', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rules-'));
  const file = join(dir, 'rules.yaml');
  writeFileSync(file, good(-1));
  assert.throws(() => createRulesReloader({ path: file, debounce_ms: 10, onChange: () => {}, onError: () => {} }), /threshold\.count/);
  assert.throws(
    () => createRulesReloader({ path: join(dir, 'missing.yaml'), debounce_ms: 10, onChange: () => {}, onError: () => {} }),
    /cannot read rules file/,
  );
});

test('a reload keeps the windows of unchanged rules and resets changed ones', () => {
  const two = (c: number) =>
    `${good(3)}  - id: other\n    type: threshold\n    filter: { field: outcome, eq: failure }\n    threshold: { count: ${c}, window_s: 60 }\n`;
  const { engine, fired } = testEngine(two(3));
  engine.process(ev({}, T0));
  engine.process(ev({}, T0 + 1));
  engine.setRules(testEngine(two(30)).engine.rules);
  engine.process(ev({}, T0 + 2));
  assert.deepEqual(
    fired().map((a) => a.rule_id),
    ['brute_force'],
    'brute_force kept its two events; other restarted empty with its new count',
  );
});
