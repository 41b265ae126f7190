import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configSchema, loadConfig } from '@auditstream/config';
import { createLogger } from '@auditstream/observability';
import { createClickHouse } from './client.js';

const logger = createLogger({ service: 't', level: 'silent' });
const cfg = (env: Record<string, string>) => loadConfig(configSchema, { env }).clickhouse;

test('clickhouse TLS: a CA file with an http:// URL is a config error; an unreadable CA names the setting', async () => {
  assert.throws(() => createClickHouse(cfg({ AUDITSTREAM_CLICKHOUSE__CA_FILE: '/x/ca.pem' }), { logger }), {
    code: 'CONFIG_INVALID',
    field: 'clickhouse.url',
  });
  assert.throws(
    () => createClickHouse(cfg({ AUDITSTREAM_CLICKHOUSE__URL: 'https://127.0.0.1:8443', AUDITSTREAM_CLICKHOUSE__CA_FILE: '/nonexistent/ca.pem' }), { logger }),
    { code: 'CONFIG_UNREADABLE' },
  );
  const ch = createClickHouse(cfg({ AUDITSTREAM_CLICKHOUSE__URL: 'https://127.0.0.1:8443' }), { logger });
  await ch.close();
});
