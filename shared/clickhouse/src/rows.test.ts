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

/** The columns a row of an event without producer_id/producer_seq leaves out (JSONEachRow fills '' and 0). */
const withoutProducer = (cols: string[]) => cols.filter((c) => c !== 'producer_id' && c !== 'producer_seq');

/** What ClickHouse prints back for the row (JSONEachRow): DateTime text, quoted UInt64. */
function asClickHouseReturns(row: Record<string, unknown>, layout: 'legacy' | 'modern'): Record<string, unknown> {
  const out: Record<string, unknown> = { ...row };
  if (layout === 'legacy') {
    for (const k of ['occurred_at', 'received_at', 'ingested_at']) out[k] = new Date((row[k] as number) * 1000).toISOString().slice(0, 19).replace('T', ' ');
  }
  return out;
}

test('attribute keys are stored in UTF-16 code unit order, as Array.prototype.sort orders them, at any count', () => {
  // Non-ASCII, astral (surrogate pairs), case and prefixes; 5 keys take the small path, 40 the large one.
  const pool = ['b', 'a', 'B', 'é', 'z', 'aa', 'a-1', '\u{1F600}', '\uFF21', '_', '0', 'ab'];
  for (const n of [2, 5, 40]) {
    const attributes: Record<string, string> = {};
    for (let i = 0; i < n; i++) attributes[`${pool[(i * 7) % pool.length]}${Math.floor(i / pool.length) || ''}`] = String(i);
    const keys = Object.keys(attributes);
    const row = toRow({ ...event, attributes }, meta, 'legacy') as LegacyEventRow;
    assert.deepEqual(row.attr_keys, [...keys].sort(), `${n} keys sorted`);
    assert.deepEqual(
      row.attr_values,
      row.attr_keys.map((k) => attributes[k]),
      `${n} values follow their keys`,
    );
  }
});

test('legacy rows keep microseconds in a second column and attributes as sorted arrays', () => {
  const row = toRow(event, meta, 'legacy') as LegacyEventRow;
  assert.equal(row.occurred_at, 1_714_564_800);
  assert.equal(row.occurred_at_us, 123_457);
  assert.deepEqual(row.attr_keys, ['a', 'z']);
  assert.deepEqual(row.attr_values, ["quote ' and \\ and \n", '1']);
  assert.equal(row.severity, 'high', 'derived severity when the event has none');
  assert.equal(row.kafka_offset, '1099511627776');
  assert.equal(row.host, '');
  assert.deepEqual(
    Object.keys(row).sort(),
    withoutProducer(eventColumns('legacy')).sort(),
    'row keys = the column list (an event without producer fields: without them)',
  );
  const back = fromRow(asClickHouseReturns(row as unknown as Record<string, unknown>, 'legacy'));
  assert.equal(back.event.occurred_at, event.occurred_at);
  assert.deepEqual(back.event.attributes, event.attributes);
  assert.deepEqual(back.event.actor, { ...event.actor, session_id: null });
  assert.deepEqual(back.event.resource, event.resource);
  assert.equal(back.event.host, null);
  assert.equal(back.meta.kafka_offset, '1099511627776');
  assert.equal(row.received_at_ms, 250);
  assert.equal(row.ingested_at_ms, 500);
  assert.equal(back.meta.received_at.toISOString(), '2024-05-01T12:00:01.250Z', 'legacy keeps ingest times to the millisecond');
  assert.equal(back.meta.ingested_at.toISOString(), '2024-05-01T12:00:02.500Z');
});

test('modern rows use DateTime64 text and a map', () => {
  const row = toRow({ ...event, severity: 'low' }, meta, 'modern') as ModernEventRow;
  assert.equal(row.occurred_at, '2024-05-01 12:00:00.123457');
  assert.equal(row.received_at, '2024-05-01 12:00:01.250');
  assert.deepEqual(row.attributes, { a: "quote ' and \\ and \n", z: '1' });
  assert.equal(row.severity, 'low');
  assert.deepEqual(Object.keys(row).sort(), withoutProducer(eventColumns('modern')).sort());
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

// The JSONEachRow text of a row (what the INSERT sends) is pinned for both layouts: toRow is on
// ingest's hot path and is written for speed, so a change of key order, value or format fails here.
// Text produced by toRow before that rewrite.
const PIN_EVENT = {
  event_id: '0190A2B3-C4D5-7E6F-8A9B-0C1D2E3F4A5B',
  tenant_id: 'acme',
  occurred_at: 4_294_967_294_999_999,
  actor: { id: 'u-42', type: 'user', name: 'Zoë "q" \\', session_id: null, ip: '203.0.113.7' },
  action: 'auth.login',
  category: 'authentication',
  outcome: 'failure',
  reason: 'bad\n',
  service: 'sso',
  host: null,
  region: 'eu-west-1',
  resource: { type: 'account', id: 'a-1', name: null },
  request_id: 'req-1',
  trace_id: null,
  severity: null,
  attributes: { zeta: 'last', alpha: 'first', é: '✓' },
} as const satisfies AuditEventInput;
const PIN_META = {
  received_at: 1_735_689_601_999,
  ingested_at: 1_735_689_602_000,
  kafka_topic: 'audit.events',
  kafka_partition: 3,
  kafka_offset: '0123',
  severity: 'medium',
  chain_seq: 7n,
  prev_hash: '0'.repeat(64),
  hash: 'f'.repeat(64),
} as const satisfies IngestMeta;
const PINNED_ROW_JSON = {
  legacy:
    '{"tenant_id":"acme","event_id":"0190a2b3-c4d5-7e6f-8a9b-0c1d2e3f4a5b","action":"auth.login","category":"authentication","outcome":"failure","reason":"bad\\n","actor_id":"u-42","actor_type":"user","actor_name":"Zoë \\"q\\" \\\\","actor_session_id":"","actor_ip":"203.0.113.7","actor_user_agent":"","service":"sso","host":"","region":"eu-west-1","resource_type":"account","resource_id":"a-1","resource_name":"","request_id":"req-1","trace_id":"","severity":"medium","kafka_topic":"audit.events","kafka_partition":3,"kafka_offset":"123","geo_country":"","geo_city":"","ua_browser":"","ua_os":"","ua_device":"","chain_seq":"7","prev_hash":"0000000000000000000000000000000000000000000000000000000000000000","hash":"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff","occurred_at":4294967294,"occurred_at_us":999999,"received_at":1735689601,"ingested_at":1735689602,"received_at_ms":999,"ingested_at_ms":0,"attr_keys":["alpha","zeta","é"],"attr_values":["first","last","✓"]}',
  modern:
    '{"tenant_id":"acme","event_id":"0190a2b3-c4d5-7e6f-8a9b-0c1d2e3f4a5b","action":"auth.login","category":"authentication","outcome":"failure","reason":"bad\\n","actor_id":"u-42","actor_type":"user","actor_name":"Zoë \\"q\\" \\\\","actor_session_id":"","actor_ip":"203.0.113.7","actor_user_agent":"","service":"sso","host":"","region":"eu-west-1","resource_type":"account","resource_id":"a-1","resource_name":"","request_id":"req-1","trace_id":"","severity":"medium","kafka_topic":"audit.events","kafka_partition":3,"kafka_offset":"123","geo_country":"","geo_city":"","ua_browser":"","ua_os":"","ua_device":"","chain_seq":"7","prev_hash":"0000000000000000000000000000000000000000000000000000000000000000","hash":"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff","occurred_at":"2106-02-07 06:28:14.999999","received_at":"2025-01-01 00:00:01.999","ingested_at":"2025-01-01 00:00:02.000","attributes":{"alpha":"first","zeta":"last","é":"✓"}}',
};

for (const layout of ['legacy', 'modern'] as const) {
  test(`toRow: the ${layout} row's JSON is pinned (last microsecond of 2106, non-canonical offset, bigint chain_seq)`, () => {
    assert.equal(JSON.stringify(toRow(PIN_EVENT, PIN_META, layout)), PINNED_ROW_JSON[layout]);
    // The same instant as a bigint, and the offset as a number or a bigint, give the same row.
    const same = toRow({ ...PIN_EVENT, occurred_at: 4_294_967_294_999_999n }, { ...PIN_META, kafka_offset: 123n, chain_seq: 7 }, layout);
    assert.equal(JSON.stringify(same), PINNED_ROW_JSON[layout]);
    assert.equal(JSON.stringify(toRow(PIN_EVENT, { ...PIN_META, kafka_offset: 123 }, layout)), PINNED_ROW_JSON[layout]);
  });
}

test('toRow: offsets and chain_seq up to 2^64-1 are kept, 20-digit offset text canonical; 2^64 and 21 digits are refused by name', () => {
  const row = toRow(PIN_EVENT, { ...PIN_META, kafka_offset: '18446744073709551615', chain_seq: 2n ** 64n - 1n }, 'legacy');
  assert.equal(row.kafka_offset, '18446744073709551615');
  assert.equal(row.chain_seq, '18446744073709551615');
  assert.equal(toRow(PIN_EVENT, { ...PIN_META, kafka_offset: '00000000000000000007' }, 'legacy').kafka_offset, '7');
  assert.throws(
    () => toRow(PIN_EVENT, { ...PIN_META, kafka_offset: '18446744073709551616' }, 'legacy'),
    (e: AuditstreamError) => e.field === 'kafka_offset',
  );
  assert.throws(
    () => toRow(PIN_EVENT, { ...PIN_META, kafka_offset: '000000000000000000007' }, 'legacy'),
    (e: AuditstreamError) => e.field === 'kafka_offset',
  );
  assert.throws(
    () => toRow(PIN_EVENT, { ...PIN_META, chain_seq: 2n ** 64n }, 'legacy'),
    (e: AuditstreamError) => e.field === 'chain_seq',
  );
  assert.throws(
    () => toRow({ ...PIN_EVENT, occurred_at: 4_294_967_295_000_000 }, PIN_META, 'legacy'),
    (e: AuditstreamError) => e.field === 'occurred_at',
  );
  assert.throws(
    () => toRow({ ...PIN_EVENT, occurred_at: -1 }, PIN_META, 'modern'),
    (e: AuditstreamError) => e.field === 'occurred_at',
  );
});

test('producer_id and producer_seq: written only when the event carries them, read back as null when absent', () => {
  const pid = uuidv7();
  for (const layout of ['legacy', 'modern'] as const) {
    const row = toRow({ ...event, producer_id: pid, producer_seq: 2 ** 53 - 2 }, meta, layout);
    assert.deepEqual(Object.keys(row).sort(), eventColumns(layout).sort(), `${layout}: row keys = the column list`);
    assert.equal(row.producer_id, pid);
    assert.equal(row.producer_seq, '9007199254740990');
    const back = fromRow(asClickHouseReturns(row as unknown as Record<string, unknown>, layout));
    assert.equal(back.event.producer_id, pid);
    assert.equal(back.event.producer_seq, 2 ** 53 - 2);
    // What the store returns for a row written without them: the column defaults.
    const plain = { ...asClickHouseReturns(toRow(event, meta, layout) as unknown as Record<string, unknown>, layout), producer_id: '', producer_seq: '0' };
    assert.equal(fromRow(plain).event.producer_id, null);
    assert.equal(fromRow(plain).event.producer_seq, null);
    assert.throws(
      () => toRow({ ...event, producer_id: 'nope', producer_seq: 1 }, meta, layout),
      (e: unknown) => e instanceof AuditstreamError && e.field === 'producer_id',
    );
  }
});
