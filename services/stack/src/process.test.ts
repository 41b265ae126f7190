import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isAlive, startDetached, startFailureMessage, waitUntil } from './process.js';

test('a server that exits at start: the message gives its exit status and the tails of its stderr file and of its own log', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'stack-process-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const stdout = join(dir, 'stdout.log');
  const log = join(dir, 'server.log');
  // Like ZooKeeper failing to bind: the cause in its own log, one line on stderr, exit 3.
  writeFileSync(log, 'starting\nERROR Unexpected exception, exiting abnormally: java.net.BindException: Address already in use\n');
  const rec = startDetached({
    name: 'fake',
    command: 'sh',
    args: ['-c', 'echo "fatal: cannot bind" >&2; exit 3'],
    cwd: dir,
    log: stdout,
    pidFile: join(dir, 'fake.json'),
  });
  assert.ok(await waitUntil(async () => !isAlive(rec.pid), 10_000, 50), 'the child exits');
  // The exit event comes from the event loop after the process is gone.
  await waitUntil(async () => startFailureMessage({ name: 'fake', pid: rec.pid, exited: true, timeoutMs: 1000, stdout, log }).includes('exit 3'), 10_000, 50);

  const msg = startFailureMessage({ name: 'fake', pid: rec.pid, exited: true, timeoutMs: 1000, stdout, log });
  assert.match(msg, /^fake exited \(exit 3\)/);
  assert.match(msg, /fatal: cannot bind/, 'stderr is in the stdout file');
  assert.match(msg, /BindException: Address already in use/, "the server's own log is in the message");

  const silent = startFailureMessage({ name: 'quiet', exited: true, timeoutMs: 1000, stdout: join(dir, 'none.log'), log: join(dir, 'none.log') });
  assert.match(silent, /^quiet exited \(status unknown\)\n.*\n\(no log yet\)$/, 'one file named once when the log is the stdout file');
  const slow = startFailureMessage({ name: 'slow', exited: false, timeoutMs: 5000, stdout, log });
  assert.match(slow, /^slow did not answer within 5 s/);
});
