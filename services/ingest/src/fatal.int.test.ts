import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createTestEnv, spawnIngest } from './testing/harness.js';

test('ClickHouse rejecting the credentials stops ingest with exit 1 and a message that says so', async (t) => {
  const env = await createTestEnv({ partitions: 1 });
  t.after(() => env.cleanup());
  const child = spawnIngest({ ...env.env, AUDITSTREAM_CLICKHOUSE__USERNAME: 'no_such_user', AUDITSTREAM_CLICKHOUSE__PASSWORD: 'wrong' });
  t.after(() => child.proc.kill('SIGKILL'));
  const timer = setTimeout(() => child.proc.kill('SIGKILL'), 60_000);
  const code = await child.exited;
  clearTimeout(timer);
  assert.equal(code, 1, child.output());
  assert.match(child.output(), /rejected the credentials/);
  assert.doesNotMatch(child.output(), /wrong/, 'the password never reaches the log');
});
