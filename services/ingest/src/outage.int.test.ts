import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { createStack } from '@auditstream/stack';
import { countStored, createTestEnv, publishEvents, rowCounts, scrape, spawnIngest, waitFor } from '@auditstream/test';

// The shared ClickHouse must not be stopped: this test runs a private ClickHouse 18.16 (the
// local stack's, on other ports and in its own state folder) and hangs and kills that one.
const CH_HTTP = 28323;
const BEFORE = 20_000;
const DURING = 40_000;

const stateDir = mkdtempSync(join(tmpdir(), 'auditstream-ingest-outage-'));
const KAFKA = 29392;
const stack = createStack({
  stateDir,
  kafkaPort: KAFKA,
  kafkaControllerPort: 29393,
  clickhouseHttpPort: CH_HTTP,
  clickhouseTcpPort: 29300,
  stopGraceMs: 10_000,
});
before(() => stack.up(), { timeout: 300_000 });
after(async () => {
  await stack.down().catch(() => {});
  rmSync(stateDir, { recursive: true, force: true });
});
const pidOf = async (name: 'kafka' | 'clickhouse') => (await stack.status()).find((c) => c.name === name)?.pid as number;

test('ClickHouse hung, then down: consumption pauses with bounded memory, inserts are retried, nothing is lost', async (t) => {
  const chPid = () => pidOf('clickhouse');

  const env = await createTestEnv({
    partitions: 4,
    clickhouseUrl: `http://127.0.0.1:${CH_HTTP}`,
    extraEnv: {
      AUDITSTREAM_CLICKHOUSE__REQUEST_TIMEOUT_MS: '3000',
      AUDITSTREAM_INGEST__RETRY_MAX_DELAY_MS: '2000',
      AUDITSTREAM_INGEST__LAG_REFRESH_MS: '1000',
    },
  });
  t.after(() => env.cleanup().catch(() => {}));
  await publishEvents(env.kafka, env.topic, env.tenant, BEFORE);
  const child = spawnIngest(env.env);
  t.after(() => child.proc.kill('SIGKILL'));
  const url = await child.metricsUrl();
  await waitFor(
    'the first events stored',
    () => countStored(env.ch, env.tenant),
    (n) => n >= 1,
    60_000,
  );

  // 1. A hung server (SIGSTOP): requests time out and are retried.
  process.kill(await chPid(), 'SIGSTOP');
  const publishing = publishEvents(env.kafka, env.topic, env.tenant, DURING, BEFORE);
  await delay(7000);
  process.kill(await chPid(), 'SIGCONT');

  // 2. A dead server (kill -9) while the backlog grows.
  await publishing;
  process.kill(await chPid(), 'SIGKILL');
  await delay(1500);
  let maxBufferEvents = 0;
  let maxBufferBytes = 0;
  for (let i = 0; i < 12; i++) {
    maxBufferEvents = Math.max(maxBufferEvents, await scrape(url, 'auditstream_ingest_buffer_events'));
    maxBufferBytes = Math.max(maxBufferBytes, await scrape(url, 'auditstream_ingest_buffer_bytes'));
    await delay(500);
  }
  const ready = await fetch(`${url}/readyz`);
  assert.equal(ready.status, 503, 'not ready while ClickHouse is down');
  assert.match(await ready.text(), /"clickhouse":false/);
  assert.ok((await scrape(url, 'auditstream_ingest_insert_retries_total')) > 0, 'inserts were retried');
  const cfg = env.config.ingest;
  assert.ok(maxBufferEvents <= cfg.batch_max_rows, `buffer held ${maxBufferEvents} events, at most batch_max_rows`);
  assert.ok(maxBufferBytes <= cfg.fetch_max_bytes + cfg.fetch_max_partition_bytes, `buffer held ${maxBufferBytes} bytes, at most one fetch`);
  const lagDuringOutage = await scrape(url, 'auditstream_ingest_consumer_lag');
  assert.ok(lagDuringOutage >= DURING / 2, `consumer lag ${lagDuringOutage} shows the backlog while ClickHouse is down`);

  // 3. ClickHouse back: everything arrives, exactly once as queries see it.
  await stack.up();
  await waitFor(
    `all ${BEFORE + DURING} stored`,
    () => countStored(env.ch, env.tenant),
    (n) => n >= BEFORE + DURING,
    180_000,
    500,
  );
  const peak = child.peakRss();
  child.proc.kill('SIGTERM');
  assert.equal(await child.exited, 0);
  const counts = await rowCounts(env.ch, env.database, env.tenant);
  assert.equal(counts.distinct, BEFORE + DURING, 'nothing lost');
  assert.equal(counts.final, BEFORE + DURING, 'no duplicate visible');
  t.diagnostic(
    `peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB; buffer at most ${maxBufferEvents} events / ${(maxBufferBytes / 2 ** 20).toFixed(1)} MiB; lag during outage ${lagDuringOutage}`,
  );
  assert.ok(peak < 1.5 * 2 ** 30, `peak RSS ${peak} stays bounded`);
});

test('the Kafka broker killed and restarted mid-stream: the consumer rejoins and resumes from its commits, nothing is lost', async (t) => {
  // The private stack's broker this time (the shared one must not be stopped), and its ClickHouse.
  const N = 30_000;
  const env = await createTestEnv({
    partitions: 4,
    clickhouseUrl: `http://127.0.0.1:${CH_HTTP}`,
    extraEnv: { AUDITSTREAM_KAFKA__BROKERS: `127.0.0.1:${KAFKA}`, AUDITSTREAM_INGEST__RETRY_MAX_DELAY_MS: '2000' },
  });
  t.after(() => env.cleanup().catch(() => {}));
  await publishEvents(env.kafka, env.topic, env.tenant, N / 2);
  const child = spawnIngest(env.env);
  t.after(() => child.proc.kill('SIGKILL'));
  await child.metricsUrl();
  await waitFor(
    'the first half stored',
    () => countStored(env.ch, env.tenant),
    (n) => n >= N / 2,
    120_000,
    250,
  );

  process.kill(await pidOf('kafka'), 'SIGKILL');
  await delay(3000);
  assert.equal(child.proc.exitCode, null, 'ingest keeps running while the broker is down');
  await stack.up();
  await publishEvents(env.kafka, env.topic, env.tenant, N / 2, N / 2);
  await waitFor(
    `all ${N} stored`,
    () => countStored(env.ch, env.tenant),
    (n) => n >= N,
    180_000,
    500,
  );
  child.proc.kill('SIGTERM');
  assert.equal(await child.exited, 0);
  const counts = await rowCounts(env.ch, env.database, env.tenant);
  assert.equal(counts.distinct, N, 'nothing lost');
  assert.equal(counts.final, N, 'no duplicate visible');
});
