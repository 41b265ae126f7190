import assert from 'node:assert/strict';
import { test } from 'node:test';
import { capabilitiesFor } from './capabilities.js';
import { parseRetentionPolicy, partitionCutoff, partitionEnd, planPartitionDrops, renderTtl, retentionDays, ttlCutoff } from './retention.js';

const policy = parseRetentionPolicy({
  default_days: { events: 90 },
  tenant_overrides: { long: { events: 400 }, short: { events: 30 }, forever: { events: null } },
});
const now = new Date('2025-06-15T00:00:00Z');

test('policy defaults and per-tenant overrides', () => {
  assert.equal(retentionDays(policy, 'events'), 90);
  assert.equal(retentionDays(policy, 'events', 'long'), 400);
  assert.equal(retentionDays(policy, 'events', 'forever'), null);
  assert.equal(retentionDays(policy, 'alerts', 'long'), 365);
  assert.throws(() => parseRetentionPolicy({ default_days: { events: -1 } }), /default_days\.events/);
  assert.throws(() => parseRetentionPolicy({ nope: 1 }), /retention policy/);
  assert.equal(partitionEnd('202412').toISOString(), '2025-01-01T00:00:00.000Z');
});

test('a partition is dropped only when expired for every tenant in it and none is held', () => {
  const d = planPartitionDrops({
    now,
    policy,
    holds: ['held'],
    partitions: [
      { table: 'events', partition: '202501', tenants: ['a', 'b'] }, // ends 2025-02-01, > 90 days before 2025-06-15
      { table: 'events', partition: '202502', tenants: ['a', 'long'] }, // long keeps 400 days
      { table: 'events', partition: '202503', tenants: ['a'] }, // ends 2025-04-01: 75 days, within 90
      { table: 'events', partition: '202412', tenants: ['a', 'held'] }, // held
      { table: 'events', partition: '202411', tenants: ['forever'] },
      { table: 'dlq_decisions', partition: '202401', tenants: [] }, // no tenant column + a hold → keep
    ],
  });
  const byPart = Object.fromEntries(d.map((x) => [`${x.table}:${x.partition}`, x]));
  assert.equal(byPart['events:202501']?.drop, true);
  assert.equal(byPart['events:202502']?.drop, false);
  assert.match(byPart['events:202502']?.reason ?? '', /400 days.*long/);
  assert.equal(byPart['events:202503']?.drop, false);
  assert.equal(byPart['events:202412']?.drop, false);
  assert.match(byPart['events:202412']?.reason ?? '', /legal hold on tenant held/);
  assert.equal(byPart['events:202411']?.drop, false);
  assert.equal(byPart['dlq_decisions:202401']?.drop, false);
  const all = planPartitionDrops({ now, policy, holds: ['*'], partitions: [{ table: 'events', partition: '202001', tenants: ['a'] }] });
  assert.equal(all[0]?.drop, false);
});

test('TTL expressions: per-tenant days, holds never expire', () => {
  const caps = capabilitiesFor('26.7.2.1');
  const ttl = renderTtl(policy, 'events', ['held'], caps);
  assert.match(ttl, /multiIf\(tenant_id IN \('held'\), -1, tenant_id = 'forever', -1, tenant_id = 'long', 400, tenant_id = 'short', 30, 90\)/);
  assert.match(ttl, /addDays\(toDateTime\(occurred_at\)/);
  assert.equal(renderTtl(parseRetentionPolicy({}), 'alerts', [], caps), 'fired_at + toIntervalDay(365)');
  assert.equal(renderTtl(policy, 'events', ['*'], caps), "greatest(toDateTime(occurred_at), toDateTime('2105-12-31 00:00:00', 'UTC'))");
  assert.match(renderTtl(policy, 'events', ["x' OR 1"], caps), /IN \('x\\' OR 1'\)/, 'tenant ids are quoted');
});

test('the events cut-off a run records: every month before it is gone, kept months pull it back', () => {
  // 90 days before 2025-06-15 is 2025-03-17: every month ending by then was a candidate.
  const ids = ['202412', '202501', '202502', '202503', '202506'];
  const dropped = ['202412', '202501', '202502'].map((partition) => ({ table: 'events', partition, drop: true, reason: '' }));
  assert.equal(partitionCutoff({ now, minDays: 90, ids, decisions: dropped })?.toISOString(), '2025-03-01T00:00:00.000Z');
  const kept = [...dropped.slice(0, 2), { table: 'events', partition: '202502', drop: false, reason: 'legal hold' }];
  assert.equal(partitionCutoff({ now, minDays: 90, ids, decisions: kept })?.toISOString(), '2025-02-01T00:00:00.000Z');
  // A kept month of another table does not hold events back.
  assert.equal(
    partitionCutoff({ now, minDays: 90, ids, decisions: [...dropped, { table: 'alerts', partition: '202401', drop: false, reason: '' }] })?.toISOString(),
    '2025-03-01T00:00:00.000Z',
  );
  assert.equal(partitionCutoff({ now, minDays: null, ids, decisions: [] }), undefined, 'nothing expires');
  assert.equal(partitionCutoff({ now, minDays: 90, ids: ['tuple()'], decisions: [] }), undefined, 'a partition that is not a month');
});

test('the events cut-off of a TTL run: the longest retention, none under a hold or with a tenant kept forever', () => {
  assert.equal(
    ttlCutoff(parseRetentionPolicy({ tenant_overrides: { long: { events: 400 }, short: { events: 30 } } }), [], now)?.toISOString(),
    '2024-05-11T00:00:00.000Z',
  );
  assert.equal(ttlCutoff(policy, [], now), undefined, 'tenant "forever" keeps its events');
  assert.equal(ttlCutoff(parseRetentionPolicy({}), ['held'], now), undefined);
});
