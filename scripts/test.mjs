#!/usr/bin/env node
// `npm test`: lint, type-check, then every test file with node's test runner.
// Integration tests need the real stack: it is brought up if it is not running, and
// stopped again afterwards only if this run started it ("leave it as it found it").
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const argv = process.argv.slice(2);
const args = new Set(argv.filter((a) => a.startsWith('--')));
// Test files named on the command line: run only those (no lint or type-check), with the stack
// brought up for them like for the whole suite. CI uses it to re-run tests on another Node.
const only = argv.filter((a) => !a.startsWith('--'));
const unitOnly = args.has('--unit');
const integrationOnly = args.has('--integration') || only.length > 0;
const bin = (name) => join(root, 'node_modules', '.bin', name);

function run(cmd, argv, opts = {}) {
  console.log(`\n$ ${[relative(root, cmd) || cmd, ...argv].join(' ')}`);
  const r = spawnSync(cmd, argv, { cwd: root, stdio: 'inherit', ...opts });
  return r.status ?? 1;
}

function findTests() {
  const files = [];
  for (const top of ['shared', 'services', 'test']) {
    for (const f of readdirSync(join(root, top), { recursive: true })) {
      const p = String(f);
      // By path segment: a substring test would also skip files such as rules/distinct.test.ts.
      if (p.split(/[\\/]/).some((seg) => seg === 'node_modules' || seg === 'dist')) continue;
      if (p.endsWith('.test.ts')) files.push(join(top, p));
    }
  }
  const isIntegration = (f) => f.startsWith('test/integration/') || f.endsWith('.int.test.ts');
  return { unit: files.filter((f) => !isIntegration(f)).sort(), integration: files.filter(isIntegration).sort() };
}

function stackHealthy() {
  return spawnSync(bin('auditstream'), ['stack', 'status'], { cwd: root, stdio: 'ignore' }).status === 0;
}

let failed = false;
if (!integrationOnly) {
  if (run(bin('biome'), ['check', '.']) !== 0) failed = true;
  if (run(bin('tsc'), ['-b']) !== 0) failed = true;
  if (failed) {
    console.error('\nlint or type-check failed');
    process.exit(1);
  }
}

const found = findTests();
const unit = only.length > 0 ? found.unit.filter((f) => only.includes(f)) : found.unit;
const integration = only.length > 0 ? found.integration.filter((f) => only.includes(f)) : found.integration;
const unknown = only.filter((f) => !unit.includes(f) && !integration.includes(f));
if (unknown.length > 0) {
  console.error(`not test files of this repository: ${unknown.join(', ')}`);
  process.exit(2);
}
const files = only.length > 0 ? [...unit, ...integration] : unitOnly ? unit : integrationOnly ? integration : [...unit, ...integration];
let startedStack = false;
if (!unitOnly && integration.length > 0 && !stackHealthy()) {
  if (run(bin('auditstream'), ['stack', 'up']) !== 0) {
    console.error('\nthe local stack did not start; see the messages above');
    process.exit(1);
  }
  startedStack = true;
}

let code = 0;
// --test-timeout bounds each test, not a file's process: one that keeps a socket open after its tests
// would hold the run (and CI) forever. The whole run is bounded too.
const wallMs = Number(process.env.TEST_WALL_TIMEOUT_MS ?? 50 * 60_000);
const began = Date.now();
try {
  code = run(
    process.execPath,
    [
      '--import',
      'tsx',
      '--test',
      '--test-reporter=spec',
      // A file whose tests are done exits even if a client left a socket open (kafkajs keeps an idle
      // broker connection until the broker closes it, 10 min later); the leak costs time, not results.
      '--test-force-exit',
      `--test-concurrency=${process.env.TEST_CONCURRENCY ?? '2'}`,
      `--test-timeout=${process.env.TEST_TIMEOUT_MS ?? '900000'}`,
      ...files,
    ],
    { timeout: wallMs, killSignal: 'SIGTERM' },
  );
  if (code !== 0 && Date.now() - began >= wallMs) {
    console.error(`\nthe tests ran past ${wallMs / 60_000} min (TEST_WALL_TIMEOUT_MS): a test file finished its tests but did not exit, or hung`);
  }
} finally {
  if (startedStack) run(bin('auditstream'), ['stack', 'down']);
}
process.exit(code);
