import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configSchema, loadConfig } from '@auditstream/config';
import { compressionOn } from './client.js';

test('clickhouse.compression auto: no gzip on loopback, gzip elsewhere; gzip and none as set', () => {
  const on = (url: string, compression: 'auto' | 'gzip' | 'none' = 'auto') => compressionOn({ url, compression });
  for (const url of ['http://127.0.0.1:8123', 'http://localhost:8123', 'https://LOCALHOST:8443', 'http://127.3.2.1:8123', 'http://[::1]:8123'])
    assert.equal(on(url), false, url);
  for (const url of ['http://10.0.0.5:8123', 'https://ch.example.com:8443', 'http://127.0.0.1.example.com:8123', 'http://[2001:db8::1]:8123'])
    assert.equal(on(url), true, url);
  assert.equal(on('http://127.0.0.1:8123', 'gzip'), true);
  assert.equal(on('https://ch.example.com', 'none'), false);
});

test('clickhouse.compression defaults to auto and takes only auto, gzip or none', () => {
  assert.equal(loadConfig(configSchema, { env: {} }).clickhouse.compression, 'auto');
  assert.equal(loadConfig(configSchema, { env: { AUDITSTREAM_CLICKHOUSE__COMPRESSION: 'none' } }).clickhouse.compression, 'none');
  assert.equal(loadConfig(configSchema, { env: { AUDITSTREAM_CLICKHOUSE__COMPRESSION: 'gzip' } }).clickhouse.compression, 'gzip');
  assert.throws(() => loadConfig(configSchema, { env: { AUDITSTREAM_CLICKHOUSE__COMPRESSION: 'true' } }), /clickhouse\.compression/);
});
