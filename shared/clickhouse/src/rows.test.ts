import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AuditstreamError, uuidv7 } from '@auditstream/core';
import { type AuditEventInput, eventColumns, fromRow, type IngestMeta, type LegacyEventRow, type ModernEventRow, toRow } from './rows.js';

const event: AuditEventInput = {
  event_id: uuidv7(1_714_564_800_123),
  tenant_id: 'acme',
  occurred_at: 1_714_564_800_123_457,
  actor: { id: 'u-1', type: 'user', name: 'Ann', session_id: null, ip: '2001:db8::1', user_agent: 'curl/8' },
  action: 'document.read',
  category: 'resource_access',
  outcome: 'denied',
  reason: 'no_permission',
  service: 'docs',
  host: null,
  region: 'eu-west-1',
  resource: { type: 'document', id: 'doc-9', name: null },
  request_id: 'r-1',
  trace_id: null,
  severity: null,
  attributes: { z: '1', a: "quote ' and \\ and \n" },
};
const meta: IngestMeta = {
  received_at: new Date('2024-05-01T12:00:01.250Z'),
  ingested_at: new Date('2024-05-01T12:00:02.500Z'),
  kafka_topic: 'audit.events',
  kafka_partition: 3,
  kafka_offset: 2n ** 40n,
  severity: 'high',
  chain_seq: 7,
  prev_hash: '0'.repeat(64),
  hash: 'f'.repeat(64),
};

/** What ClickHouse prints back for the row (JSONEachRow): DateTime text, quoted UInt64. */
function asClickHouseReturns(row: Record<string, unknown>, layout: 'legacy' | 'modern'): Record<string, unknown> {
  const out: Record<string, unknown> = { ...row };
  if (layout === 'legacy') {
    for (const k of ['occurred_at', 'received_at', 'ingested_at']) out[k] = new Date((row[k] as number) * 1000).toISOString().slice(0, 19).replace('T', ' ');
  }
  return out;
}

test('legacy rows keep microseconds in a second column and attributes as sorted arrays', () => {
  const row = toRow(event, meta, 'legacy') as LegacyEventRow;
  assert.equal(row.occurred_at, 1_714_564_800);
  assert.equal(row.occurred_at_us, 123_457);
  assert.deepEqual(row.attr_keys, ['a', 'z']);
  assert.deepEqual(row.attr_values, ["quote ' and \\ and \n", '1']);
  assert.equal(row.severity, 'high', 'derived severity when the event has none');
  assert.equal(row.kafka_offset, '1099511627776');
  assert.equal(row.host, '');
  assert.deepEqual(Object.keys(row).sort(), eventColumns('legacy').sort(), 'row keys = the column list');
  const back = fromRow(asClickHouseReturns(row as unknown as Record<string, unknown>, 'legacy'));
  assert.equal(back.event.occurred_at, event.occurred_at);
  assert.deepEqual(back.event.attributes, event.attributes);
  assert.deepEqual(back.event.actor, { ...event.actor, session_id: null });
  assert.deepEqual(back.event.resource, event.resource);
  assert.equal(back.event.host, null);
  assert.equal(back.meta.kafka_offset, '1099511627776');
  assert.equal(back.meta.received_at.toISOString(), '2024-05-01T12:00:01.000Z', 'legacy keeps ingest times to the second');
});

test('modern rows use DateTime64 text and a map', () => {
  const row = toRow({ ...event, severity: 'low' }, meta, 'modern') as ModernEventRow;
  assert.equal(row.occurred_at, '2024-05-01 12:00:00.123457');
  assert.equal(row.received_at, '2024-05-01 12:00:01.250');
  assert.deepEqual(row.attributes, { a: "quote ' and \\ and \n", z: '1' });
  assert.equal(row.severity, 'low');
  assert.deepEqual(Object.keys(row).sort(), eventColumns('modern').sort());
  const back = fromRow(row as unknown as Record<string, unknown>);
  assert.equal(back.event.occurred_at, event.occurred_at);
  assert.equal(back.meta.received_at.toISOString(), '2024-05-01T12:00:01.250Z');
});

test('bad fields are CLICKHOUSE_DATA naming the field, never the value', () => {
  const bad =
    (patch: Record<string, unknown>, m: Partial<IngestMeta> = {}) =>
    () =>
      toRow({ ...event, ...patch } as AuditEventInput, { ...meta, ...m }, 'legacy');
  const isData = (field: string) => (e: unknown) =>
    e instanceof AuditstreamError && e.code === 'CLICKHOUSE_DATA' && e.field === field && !/s3cret/.test(e.message);
  assert.throws(bad({ event_id: 's3cret' }), isData('event_id'));
  assert.throws(bad({ category: 's3cret' }), isData('category'));
  assert.throws(bad({ actor: { id: 'x', type: 'robot' } }), isData('actor.type'));
  assert.throws(bad({ occurred_at: 1.5 }), isData('occurred_at'));
  assert.throws(bad({ occurred_at: -1 }), isData('occurred_at'));
  assert.throws(bad({ tenant_id: '' }), isData('tenant_id'));
  assert.throws(bad({ reason: 'lone \ud800 surrogate' }), isData('reason'));
  assert.throws(bad({ attributes: { k: 1 } }), isData('attributes.k'));
  assert.throws(bad({}, { kafka_partition: 70000.5 }), isData('kafka_partition'));
  assert.throws(bad({}, { kafka_offset: -1 }), isData('kafka_offset'));
});
