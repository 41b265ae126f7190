import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { sleep } from '@auditstream/core';
import { isAlive } from './process.js';

// Supervised children lead process groups of their own (a terminal's signals do not reach them),
// so the supervisor's process must take them down however it ends, not only through stopAll.
test('a supervisor process that dies of an uncaught error still stops its children', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sup-'));
  const script = `
    import { createSupervisor } from './supervisor.ts';
    const sup = createSupervisor();
    const child = sup.start({ name: 'sleeper', command: 'sleep', args: ['600'], log: ${JSON.stringify(join(dir, 'sleeper.log'))} });
    console.log(child.pid);
    setTimeout(() => { throw new Error('boom'); }, 200);
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: import.meta.dirname, encoding: 'utf8' });
  assert.notEqual(r.status, 0, 'the supervisor process died');
  const pid = Number(r.stdout.trim());
  assert.ok(pid > 0, r.stdout + r.stderr);
  for (let i = 0; i < 100 && isAlive(pid); i++) await sleep(100);
  const alive = isAlive(pid);
  if (alive) process.kill(pid, 'SIGKILL');
  assert.equal(alive, false, 'the child outlived its supervisor');
});
