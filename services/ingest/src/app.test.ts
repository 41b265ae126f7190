import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AuditstreamError } from '@auditstream/core';
import { createLogger, createMetricsRegistry } from '@auditstream/observability';
import { createIngest } from './app.js';
import { loadIngestConfig } from './config.js';

const config = loadIngestConfig({ env: { AUDITSTREAM_INGEST__RETRY_INITIAL_DELAY_MS: '20', AUDITSTREAM_INGEST__RETRY_MAX_DELAY_MS: '50' } });

function app(prepare: () => Promise<never>) {
  return createIngest({
    config,
    logger: createLogger({ service: 'test', level: 'silent' }),
    registry: createMetricsRegistry({ service: 'test', defaultMetrics: false }),
    storage: { prepare, ping: async () => false, close: async () => {} },
    decoder: {
      decodeSync: () => {
        throw new Error('unused');
      },
      decode: async () => {
        throw new Error('unused');
      },
    },
    validate: () => {},
    observability: false,
    ensureTopics: false,
    geo: () => undefined,
  });
}

test('a stop while start waits for ClickHouse ends the wait: start returns, the stop is clean', async () => {
  let attempts = 0;
  const a = app(async () => {
    attempts++;
    throw new AuditstreamError('CLICKHOUSE_UNAVAILABLE', 'down', { retriable: true });
  });
  const started = a.start();
  await new Promise((r) => setTimeout(r, 150));
  const res = await a.stop('SIGTERM');
  await started;
  assert.equal(res.clean, true);
  assert.ok(attempts >= 2, 'it kept waiting until the stop');
  assert.deepEqual((await a.done).result, res);
});

test('a ClickHouse error that is not transient fails the start (e.g. wrong credentials)', async () => {
  const a = app(async () => {
    throw new AuditstreamError('CLICKHOUSE_AUTH', 'ClickHouse rejected the credentials');
  });
  await assert.rejects(a.start(), /rejected the credentials/);
  await a.stop('start failed');
});
