import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fromRow, type LegacyEventRow, toRow } from '@auditstream/clickhouse';
import { CHAIN_FIELDS, type ChainEntryFields, canonicalEntryText, entryHash, entryHashOf, GENESIS_HASH } from './chain.js';
import { chainContentFromRow, chainContentFromStored } from './fields.js';
import { PINNED_EVENT, PINNED_META } from './pinned-event.test-helper.js';

// Pins the chain's bytes: rows already stored were hashed with exactly this canonical text, so any
// change to the set of chain fields or to how a value is normalised must fail here, not in the field.
const EVENT = PINNED_EVENT;
const META = PINNED_META;

const PINNED_TEXT =
  '{"action":"auth.login","actor_id":"u-42","actor_ip":"203.0.113.7","actor_name":"Zoë \\"quoted\\" \\\\ back","actor_session_id":"",' +
  '"actor_type":"user","actor_user_agent":"Mozilla/5.0","attributes":{"alpha":"first","zeta":"last","é":"✓"},"category":"authentication",' +
  '"chain_seq":"7","event_id":"0190a2b3-c4d5-7e6f-8a9b-0c1d2e3f4a5b","geo_city":"Amsterdam","geo_country":"NL","host":"",' +
  '"kafka_offset":"123456789","kafka_partition":3,"kafka_topic":"audit.events","occurred_at_us":"1735689600123456","outcome":"failure",' +
  `"prev_hash":"${GENESIS_HASH}","reason":"bad password\\n","received_at_s":1735689601,"region":"eu-west-1","request_id":"req-1",` +
  '"resource_id":"a-1","resource_name":"","resource_type":"account","service":"sso","severity":"medium","tenant_id":"acme","trace_id":"",' +
  '"ua_browser":"Firefox","ua_device":"desktop","ua_os":"Linux","v":1}';
// SHA-256(prev_hash bytes || PINNED_TEXT), also checked outside the project code.
const PINNED_HASH = '4c3c806fd9e05e894d6e3ecc962fe11d45da2319d9b7c14b31f0175d6c87d3e5';

test('the chain field set is pinned (a change alters the hash of every stored row)', () => {
  assert.deepEqual([...CHAIN_FIELDS].sort(), [
    'action',
    'actor_id',
    'actor_ip',
    'actor_name',
    'actor_session_id',
    'actor_type',
    'actor_user_agent',
    'attributes',
    'category',
    'chain_seq',
    'event_id',
    'geo_city',
    'geo_country',
    'host',
    'kafka_offset',
    'kafka_partition',
    'kafka_topic',
    'occurred_at_us',
    'outcome',
    'prev_hash',
    'reason',
    'received_at_s',
    'region',
    'request_id',
    'resource_id',
    'resource_name',
    'resource_type',
    'service',
    'severity',
    'tenant_id',
    'trace_id',
    'ua_browser',
    'ua_device',
    'ua_os',
  ]);
});

for (const layout of ['legacy', 'modern'] as const) {
  test(`a known ${layout} row has the pinned canonical text and hash`, () => {
    const row = toRow(EVENT, META, layout);
    const fields: ChainEntryFields = { ...chainContentFromRow(row), chain_seq: '7', prev_hash: GENESIS_HASH };
    assert.equal(canonicalEntryText(fields), PINNED_TEXT);
    assert.equal(entryHash(fields), PINNED_HASH);
    assert.equal(entryHashOf(chainContentFromRow(row), '7', GENESIS_HASH), PINNED_HASH);
  });
}

test('the same row read back (fromRow) hashes to the pinned value', () => {
  const legacy = toRow(EVENT, META, 'legacy') as LegacyEventRow;
  // What ClickHouse returns for the legacy row: DateTime columns as text.
  const asRead = {
    ...legacy,
    occurred_at: '2025-01-01 00:00:00',
    received_at: '2025-01-01 00:00:01',
    ingested_at: '2025-01-01 00:00:02',
  };
  const stored = fromRow(asRead);
  assert.equal(entryHashOf(chainContentFromStored(stored), '7', GENESIS_HASH), PINNED_HASH);
});
