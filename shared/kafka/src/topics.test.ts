import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultTopicSpecs } from './topics.js';

const cfg = {
  events: 'audit.events',
  dlq: 'audit.events.dlq',
  alerts: 'audit.alerts',
  checkpoints: 'audit.checkpoints',
  partitions: 6,
  replication_factor: 1,
  retention_ms: 604_800_000,
};

test('default topic specs follow the topics config section', () => {
  const specs = defaultTopicSpecs(cfg);
  assert.deepEqual(
    specs.map((s) => [s.name, s.partitions, s.replicationFactor]),
    [
      ['audit.events', 6, 1],
      ['audit.events.dlq', 6, 1],
      ['audit.alerts', 6, 1],
      ['audit.checkpoints', 1, 1],
    ],
  );
  assert.equal(specs[0]?.configs?.['retention.ms'], '604800000');
  assert.equal(specs[3]?.configs?.['retention.ms'], '-1', 'checkpoints are kept forever');
  assert.equal(specs[0]?.configs?.['min.insync.replicas'], undefined);
});

test('overrides win, and replication ≥ 3 asks for two in-sync replicas', () => {
  const specs = defaultTopicSpecs(cfg, { partitions: 12, replication_factor: 3 });
  assert.equal(specs[0]?.partitions, 12);
  assert.equal(specs[3]?.partitions, 1);
  assert.ok(specs.every((s) => s.replicationFactor === 3 && s.configs?.['min.insync.replicas'] === '2'));
});
