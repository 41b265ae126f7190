import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configSchema, loadConfig } from '@auditstream/config';
import { baseSettings } from './client.js';

const cfg = (env: Record<string, string>) => loadConfig(configSchema, { env }).clickhouse;

test('on a cluster every request inserts synchronously and reads and writes the same replica of each shard', () => {
  const cluster = baseSettings(cfg({ AUDITSTREAM_CLICKHOUSE__CLUSTER: 'auditstream' }));
  assert.equal(cluster.insert_distributed_sync, 1);
  assert.equal(cluster.load_balancing, 'in_order');
  const single = baseSettings(cfg({}));
  assert.equal(single.insert_distributed_sync, undefined);
  assert.equal(single.load_balancing, undefined, 'one server: no setting a readonly account could be refused');
});
