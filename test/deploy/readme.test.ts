import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '@auditstream/core';
import { renderReadme } from '../../scripts/docs.js';

const root = repoRoot();
const readme = readFileSync(join(root, 'README.md'), 'utf8');

test('the README configuration table is the one the config schema generates (run `npm run docs`)', () => {
  assert.equal(readme, renderReadme(readme));
});

test('the Quick start is exactly two command lines, and CI runs the README test command', () => {
  const section = readme.split('## Quick start')[1]?.split('\n## ')[0] ?? '';
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  assert.deepEqual(block.trim().split('\n'), ['npm ci && npm start', 'npm test']);
  const ci = readFileSync(join(root, '.ci/run'), 'utf8');
  assert.match(ci, /^npm ci\b.*$/m);
  assert.match(ci, /^npm test$/m);
});
