import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isAlive } from './process.js';
import { createStack } from './stack.js';

// A second, private stack on other ports, so the shared test stack is never touched.
test('up starts the servers (with the registry), a second up is a no-op, down leaves no process', async () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'auditstream-stack-'));
  const stack = createStack({
    stateDir,
    kafkaPort: 29092,
    kafkaControllerPort: 29093,
    clickhouseHttpPort: 28123,
    clickhouseTcpPort: 29000,
    withRegistry: true,
    registryPort: 28081,
    stopGraceMs: 20_000,
  });
  try {
    const first = await stack.up();
    assert.equal(first.alreadyRunning, false);
    assert.deepEqual(first.started.sort(), ['clickhouse', 'kafka', 'registry']);
    assert.ok(first.components.every((c) => c.healthy));
    const res = await fetch('http://127.0.0.1:28123/ping');
    assert.equal((await res.text()).trim(), 'Ok.');
    const reg = await fetch('http://127.0.0.1:28081/apis/ccompat/v7/subjects');
    assert.deepEqual(await reg.json(), []);

    const second = await stack.up();
    assert.equal(second.alreadyRunning, true);
    assert.deepEqual(second.started, []);

    const pids = first.components.map((c) => c.pid as number);
    const down = await stack.down();
    assert.deepEqual(down.map((d) => d.name).sort(), ['clickhouse', 'kafka', 'registry']);
    for (const pid of pids) assert.equal(isAlive(pid), false, `pid ${pid} still alive after down`);
    assert.ok((await stack.status()).every((s) => !s.running));
  } finally {
    await stack.down();
  }
});

test('up refuses a port held by a process it did not start, naming the port', async () => {
  const { createServer } = await import('node:net');
  const blocker = createServer().listen(28124, '127.0.0.1');
  await new Promise((r) => blocker.once('listening', r));
  const stateDir = mkdtempSync(join(tmpdir(), 'auditstream-stack-'));
  const stack = createStack({ stateDir, kafkaPort: 29192, kafkaControllerPort: 29193, clickhouseHttpPort: 28124, clickhouseTcpPort: 29100 });
  try {
    await assert.rejects(stack.up(), /port 127\.0\.0\.1:28124 \(needed by clickhouse\) is already in use/);
    assert.ok(
      (await stack.status()).every((s) => !s.running),
      'nothing is left running after a refused up',
    );
  } finally {
    blocker.close();
    await stack.down();
  }
});

// A server that dies while starting must end `up` at once, not after the whole start timeout.
// The test's own timeout is far below startTimeoutMs, so a wait for the timeout fails it.
test('up reports a server that exits while starting, without waiting for the start timeout', { timeout: 120_000 }, async () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'auditstream-stack-'));
  const stack = createStack({
    stateDir,
    kafkaPort: 29292,
    kafkaControllerPort: 29293,
    clickhouseHttpPort: 28125,
    clickhouseTcpPort: 29200,
    startTimeoutMs: 600_000,
  });
  const heap = process.env.AUDITSTREAM_KAFKA_HEAP;
  process.env.AUDITSTREAM_KAFKA_HEAP = '-Xms1m -Xmx1m'; // the JVM refuses to start with so small a heap
  try {
    await assert.rejects(stack.up(), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'STACK_START_FAILED');
      // How it ended, then the tails of its stdout/stderr file and of its own log: the JVM's reason is in the first.
      assert.match(err.message, /^kafka exited \(exit \d+\)\nlast lines of .*stdout\.log/);
      assert.match(err.message, /Too small maximum heap/);
      return true;
    });
    assert.ok(
      (await stack.status()).every((s) => !s.running),
      'clickhouse, started beside it, is stopped again',
    );
  } finally {
    if (heap === undefined) delete process.env.AUDITSTREAM_KAFKA_HEAP;
    else process.env.AUDITSTREAM_KAFKA_HEAP = heap;
    await stack.down();
  }
});
