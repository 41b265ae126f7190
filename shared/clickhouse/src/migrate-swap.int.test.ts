import { test } from 'node:test';
import { configSchema, loadConfig } from '@auditstream/config';
import { uniqueName } from '@auditstream/core';
import { createLogger } from '@auditstream/observability';
import { createClickHouse } from './client.js';
import { checkSwapMigrations } from './migrate-swap.test-helper.js';

// Migrations 006/007 on the real ClickHouse (18.16: the legacy layout, lookup views, no EXCHANGE TABLES).
test('006/007 swap the events and checkpoints tables on a populated database, after an interruption, losing nothing', async (t) => {
  const db = uniqueName('audit_swap');
  const ch = createClickHouse({ ...loadConfig(configSchema, {}).clickhouse, database: db }, { logger: createLogger({ service: 'swap-test', level: 'warn' }) });
  t.after(async () => {
    await ch.command(`DROP DATABASE IF EXISTS ${db}`);
    await ch.close();
  });
  await checkSwapMigrations(ch, db);
});
