import { test } from 'node:test';
import { configSchema, loadConfig } from '@auditstream/config';
import { uniqueName } from '@auditstream/core';
import { createLogger } from '@auditstream/observability';
import { createChdbConnection } from 'chdb/connection';
import { createClickHouse } from './client.js';
import { checkSwapMigrations } from './migrate-swap.test-helper.js';

// Migrations 006/007 on the modern layout, in-process (chDB).
test('006/007 swap the events and checkpoints tables on a populated modern database, after an interruption, losing nothing', async (t) => {
  const db = uniqueName('audit_swap_chdb');
  const ch = createClickHouse(
    { ...loadConfig(configSchema, { env: {} }).clickhouse, database: db },
    { logger: createLogger({ service: 'swap-chdb', level: 'warn' }), connection: createChdbConnection({ path: ':memory:' }) },
  );
  t.after(async () => {
    await ch.command(`DROP DATABASE IF EXISTS ${db}`);
    await ch.close();
  });
  await checkSwapMigrations(ch, db);
});
