import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createTestEnv, spawnIngest } from '@auditstream/test';

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

test('integrity on (the default) without a signing key: exit 1 at start naming integrity.signing_key_file, nothing consumed', async (t) => {
  const env = await createTestEnv({ partitions: 1 });
  t.after(() => env.cleanup());
  const withoutKey = Object.fromEntries(Object.entries(env.env).filter(([k]) => !k.startsWith('AUDITSTREAM_INTEGRITY__SIGNING_KEY')));
  const child = spawnIngest(withoutKey);
  t.after(() => child.proc.kill('SIGKILL'));
  const timer = setTimeout(() => child.proc.kill('SIGKILL'), 60_000);
  const code = await child.exited;
  clearTimeout(timer);
  assert.equal(code, 1, child.output());
  assert.match(child.output(), /INTEGRITY_KEY_MISSING/);
  assert.match(child.output(), /integrity\.signing_key_file/);
  assert.doesNotMatch(child.output(), /joined the consumer group/);
});
