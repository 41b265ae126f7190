import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { AuditstreamError } from '@auditstream/core';
import { renderConfigTable } from './docs.js';
import { loadConfig } from './load.js';
import { configSchema } from './schema.js';
import { describeFields } from './schema-walk.js';

test('defaults apply with no file and no environment', () => {
  const cfg = loadConfig(configSchema, { env: {} });
  assert.deepEqual(cfg.kafka.brokers, ['127.0.0.1:9092']);
  assert.equal(cfg.clickhouse.url, 'http://127.0.0.1:8123');
  assert.equal(cfg.topics.partitions, 6);
  assert.ok(Object.isFrozen(cfg) && Object.isFrozen(cfg.kafka) && Object.isFrozen(cfg.kafka.brokers));
});

test('environment overrides the file, and lists are comma-separated', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
  const file = join(dir, 'auditstream.yaml');
  writeFileSync(file, 'kafka:\n  brokers: ["a:1"]\n  client_id: fromfile\ntopics:\n  partitions: 3\n');
  const cfg = loadConfig(configSchema, {
    file,
    env: { AUDITSTREAM_KAFKA__BROKERS: 'b:2, c:3', AUDITSTREAM_TOPICS__PARTITIONS: '12', AUDITSTREAM_HOME: '/x' },
  });
  assert.deepEqual(cfg.kafka.brokers, ['b:2', 'c:3']);
  assert.equal(cfg.kafka.client_id, 'fromfile');
  assert.equal(cfg.topics.partitions, 12);
});

test('a bad value fails fast naming the key', () => {
  assert.throws(
    () => loadConfig(configSchema, { env: { AUDITSTREAM_TOPICS__PARTITIONS: 'many' } }),
    (err: unknown) =>
      err instanceof AuditstreamError && err.code === 'CONFIG_INVALID' && err.field === 'topics.partitions' && /topics\.partitions/.test(err.message),
  );
  assert.throws(() => loadConfig(configSchema, { env: { AUDITSTREAM_KAFKA__NOPE: '1' } }), /AUDITSTREAM_KAFKA__NOPE names no config key/);
  const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, 'kafka:\n  brokerz: []\n');
  assert.throws(() => loadConfig(configSchema, { file, env: {} }), /kafka/);
  writeFileSync(file, 'unknown_section: {}\n');
  assert.throws(() => loadConfig(configSchema, { file, env: {} }), /unknown_section|Unrecognized/);
});

test('integrity.chain_format is 2 unless set to 1, and any other value fails naming the key', () => {
  assert.equal(loadConfig(configSchema, { env: {} }).integrity.chain_format, 2);
  assert.equal(loadConfig(configSchema, { env: { AUDITSTREAM_INTEGRITY__CHAIN_FORMAT: '1' } }).integrity.chain_format, 1);
  for (const bad of ['3', '0', '1.5', 'v2'])
    assert.throws(
      () => loadConfig(configSchema, { env: { AUDITSTREAM_INTEGRITY__CHAIN_FORMAT: bad } }),
      (err: unknown) => err instanceof AuditstreamError && err.field === 'integrity.chain_format',
      bad,
    );
});

test('every key is documented, and time and size keys carry their unit', () => {
  for (const f of describeFields(configSchema)) {
    assert.ok(f.description.length > 0, `${f.key} has no description`);
    if (/(timeout|interval|delay|linger|age|window|retention)$/.test(f.key)) assert.fail(`${f.key} lacks a unit suffix (_ms, _s, _bytes)`);
  }
  assert.match(renderConfigTable(configSchema), /\| `kafka.brokers` \|/);
});
