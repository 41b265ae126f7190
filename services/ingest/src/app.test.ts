import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ClickHouse } from '@auditstream/clickhouse';
import { AuditstreamError } from '@auditstream/core';
import { generateSigningKey } from '@auditstream/integrity';
import { createLogger, createMetricsRegistry } from '@auditstream/observability';
import { createIngest } from './app.js';
import { loadIngestConfig } from './config.js';
import { integrityFromConfig } from './integrity.js';

const env = { AUDITSTREAM_INGEST__RETRY_INITIAL_DELAY_MS: '20', AUDITSTREAM_INGEST__RETRY_MAX_DELAY_MS: '50' };
const config = loadIngestConfig({ env: { ...env, AUDITSTREAM_INTEGRITY__ENABLED: 'false' } });

function app(prepare: () => Promise<never>, cfg = config) {
  return createIngest({
    config: cfg,
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

test('integrity.enabled (the default) without a signing key: createIngest refuses, naming integrity.signing_key_file', () => {
  const enabled = loadIngestConfig({ env });
  assert.equal(enabled.integrity.enabled, true, 'integrity is on by default');
  assert.throws(
    () => app(async () => Promise.reject(new Error('unused')) as never, enabled),
    (err: AuditstreamError) => err.code === 'INTEGRITY_KEY_MISSING' && /integrity\.signing_key_file/.test(err.message),
  );
});

test('integrityFromConfig: off → nothing; on without a key → INTEGRITY_KEY_MISSING naming integrity.signing_key_file; on with a key → the key', () => {
  const ch = {} as ClickHouse;
  assert.equal(integrityFromConfig(config.integrity, ch), undefined);
  const on = loadIngestConfig({ env });
  assert.throws(
    () => integrityFromConfig(on.integrity, ch),
    (err: AuditstreamError) => err.code === 'INTEGRITY_KEY_MISSING' && /integrity\.signing_key_file/.test(err.message),
  );
  const pair = generateSigningKey();
  const withKey = loadIngestConfig({ env: { ...env, AUDITSTREAM_INTEGRITY__SIGNING_KEY: pair.privatePem } });
  assert.equal(integrityFromConfig(withKey.integrity, ch)?.signingKey.keyId, pair.keyId);
});
