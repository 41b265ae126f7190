import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { createTestEnv, publishEvents, rowCounts, scrape, spawnIngest, startTcpProxy, waitForStored } from '@auditstream/test';

// Ingest (a child process, so the RSS is its own) drains a backlog through a TCP proxy to the
// shared ClickHouse; the proxy is taken down for part of the drain (the shared server is never
// stopped). Without the budget this backlog peaks far above it (docs/ingest.md, "Memory budget").
const N = 120_000;
const BUDGET = 256 * 2 ** 20;

test('ingest stays within ingest.memory_budget_bytes over a backlog and a ClickHouse outage, and stores every event once', { timeout: 110_000 }, async (t) => {
  const proxy = await startTcpProxy({ host: '127.0.0.1', port: 8123 });
  t.after(() => proxy.close());
  const env = await createTestEnv({
    partitions: 4,
    clickhouseUrl: proxy.url,
    extraEnv: {
      AUDITSTREAM_INGEST__MEMORY_BUDGET_BYTES: String(BUDGET),
      // The offline geo database alone is ~140 MiB resident: off, so the budget covers what ingest holds.
      AUDITSTREAM_INGEST__GEO_ENABLED: 'false',
      AUDITSTREAM_INTEGRITY__ENABLED: 'false',
      AUDITSTREAM_CLICKHOUSE__REQUEST_TIMEOUT_MS: '3000',
      AUDITSTREAM_INGEST__RETRY_MAX_DELAY_MS: '1000',
    },
  });
  t.after(() => env.cleanup().catch(() => {}));
  await publishEvents(env.kafka, env.topic, env.tenant, N);

  const child = spawnIngest(env.env);
  t.after(() => child.proc.kill('SIGKILL'));
  const url = await child.metricsUrl();
  assert.equal(await scrape(url, 'auditstream_ingest_memory_budget_bytes'), BUDGET);
  await waitForStored(env, 1, { what: 'the first events stored', timeoutMs: 60_000 });

  await proxy.down();
  await delay(6000);
  assert.ok((await scrape(url, 'auditstream_ingest_insert_retries_total')) > 0, 'inserts failed and were retried while ClickHouse was unreachable');
  assert.equal(child.proc.exitCode, null, 'ingest keeps running through the outage');
  await proxy.up();

  await waitForStored(env, N, { timeoutMs: 90_000, everyMs: 500 });
  const pauses = await scrape(url, 'auditstream_ingest_fetch_pauses_total');
  const peak = child.peakRss();
  child.proc.kill('SIGTERM');
  assert.equal(await child.exited, 0);
  const counts = await rowCounts(env.ch, env.database, env.tenant);
  t.diagnostic(`peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB (budget ${BUDGET / 2 ** 20} MiB), ${pauses} pauses`);
  assert.equal(counts.distinct, N, 'nothing lost');
  assert.equal(counts.final, N, 'no duplicate visible');
  assert.ok(peak <= BUDGET, `peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB passed the ${BUDGET / 2 ** 20} MiB budget`);
});
