import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { CORE_ERROR_CODES, repoRoot } from '@auditstream/core';

const root = repoRoot();
const PACKAGES = ['shared', 'services']
  .flatMap((top) => readdirSync(join(root, top)).map((d) => join(top, d)))
  .filter((d) => existsSync(join(root, d, 'package.json')));

/** The package's one `*_ERROR_CODES` list (src/error-codes.ts, or src/errors.ts where the package has one). */
async function codesOf(pkg: string): Promise<readonly string[] | undefined> {
  const lists: (readonly string[])[] = [];
  for (const f of ['src/error-codes.ts', 'src/errors.ts']) {
    if (!existsSync(join(root, pkg, f))) continue;
    const mod = (await import(pathToFileURL(join(root, pkg, f)).href)) as Record<string, unknown>;
    for (const [name, value] of Object.entries(mod)) if (name.endsWith('_ERROR_CODES')) lists.push(value as readonly string[]);
  }
  assert.ok(lists.length <= 1, `${pkg} has ${lists.length} lists of error codes; one is the rule`);
  return lists[0];
}

function sources(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.ts') && !/\.test\.ts$|\.test-helper\.ts$|\.d\.ts$/.test(f) && !f.split('/').includes('node_modules'))
    .map((f) => join(dir, f));
}

/** The codes written as literals in the first argument of `AuditstreamError(` (or of a ternary there). */
function raisedCodes(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/AuditstreamError\(\s*([^,]*),/g)) for (const c of (m[1] ?? '').matchAll(/'([A-Z][A-Z0-9_]*)'/g)) out.push(c[1] as string);
  return out;
}

test('every error code a package raises is in its one `as const` list, the core list, or one of a package it builds on', async () => {
  const lists = new Map<string, readonly string[]>();
  for (const pkg of PACKAGES) {
    const codes = await codesOf(pkg);
    if (codes) lists.set(pkg, codes);
  }
  const depsOf = new Map(
    PACKAGES.map((pkg) => {
      const pj = JSON.parse(readFileSync(join(root, pkg, 'package.json'), 'utf8')) as { name: string; dependencies?: object };
      return [pj.name, { pkg, deps: Object.keys(pj.dependencies ?? {}) }];
    }),
  );
  /** The package and every workspace package it builds on, directly or not. */
  const closure = (name: string, acc = new Set<string>()): Set<string> => {
    if (acc.has(name) || !depsOf.has(name)) return acc;
    acc.add(name);
    for (const d of depsOf.get(name)?.deps ?? []) closure(d, acc);
    return acc;
  };
  const unlisted: string[] = [];
  for (const [name, { pkg }] of depsOf) {
    const allowed = new Set<string>(CORE_ERROR_CODES);
    for (const d of closure(name)) for (const c of lists.get(depsOf.get(d)?.pkg ?? '') ?? []) allowed.add(c);
    for (const file of [...sources(join(root, pkg, 'src')), ...sources(join(root, pkg, 'bench'))]) {
      for (const code of raisedCodes(file)) if (!allowed.has(code)) unlisted.push(`${code} (${file.slice(root.length + 1)})`);
    }
  }
  assert.deepEqual(unlisted, [], 'add these codes to their package’s *_ERROR_CODES list');
});

test('no code is listed by two packages', async () => {
  const seen = new Map<string, string>();
  const twice: string[] = [];
  for (const [pkg, codes] of [
    ['shared/core', CORE_ERROR_CODES] as const,
    ...(await Promise.all(PACKAGES.map(async (p) => [p, (await codesOf(p)) ?? []] as const))),
  ]) {
    for (const c of codes) {
      if (seen.has(c) && seen.get(c) !== pkg) twice.push(`${c}: ${seen.get(c)} and ${pkg}`);
      seen.set(c, pkg);
    }
  }
  assert.deepEqual(twice, []);
});
