import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type AuditEventInput, type EventRow, type IngestMeta, type LegacyEventRow, type ModernEventRow, toRow } from '@auditstream/clickhouse';
import { canonicalEntryText, entryHashOf, GENESIS_HASH, type PreparedEntry, prepareContent, preparedHash, preparedText } from './chain.js';
import { chainContentFromRow, prepareRow } from './fields.js';

// prepareRow (the chainer's per-row path) writes the canonical text straight from a row; it must
// give exactly what the generic path (chainContentFromRow → sorted-key canonical JSON) gives.

const EVENT2: AuditEventInput = {
  event_id: '0190a2b3-c4d5-7e6f-8a9b-0c1d2e3f4a5c',
  tenant_id: 't\u00e9nant/\u4e2d',
  occurred_at: 1_700_000_000_000_001,
  actor: { id: 'svc:\u0001ctl\u001f', type: 'service' },
  action: 'data.export',
  category: 'data_export',
  outcome: 'success',
  service: 'exp\u2028orter',
  resource: null,
  attributes: { 'k"q': 'v\\b', '\u00e9t\u00e9': '\u{1F600} emoji', A: '\t\r\n', a: '', '10': 'num', '2': 'two', __x: '\u007f\u0080' },
};
const META2: IngestMeta = {
  received_at: 1_700_000_000_999,
  ingested_at: 1_700_000_001_000,
  kafka_topic: 'audit.events.v2',
  kafka_partition: 0,
  kafka_offset: '18446744073709551615',
};
const PREV2 = 'ab'.repeat(32);
// Produced by the generic path before prepareRow existed; the hash also checked with Python's hashlib.
const PINNED_TEXT_2 =
  '{"action":"data.export","actor_id":"svc:\\u0001ctl\\u001f","actor_ip":"","actor_name":"","actor_session_id":"","actor_type":"service","actor_user_agent":"","attributes":{"10":"num","2":"two","A":"\\t\\r\\n","__x":"\u007f\u0080","a":"","k\\"q":"v\\\\b","\u00e9t\u00e9":"\ud83d\ude00 emoji"},"category":"data_export","chain_seq":"18446744073709551615","event_id":"0190a2b3-c4d5-7e6f-8a9b-0c1d2e3f4a5c","geo_city":"","geo_country":"","host":"","kafka_offset":"18446744073709551615","kafka_partition":0,"kafka_topic":"audit.events.v2","occurred_at_us":"1700000000000001","outcome":"success","prev_hash":"abababababababababababababababababababababababababababababababab","reason":"","received_at_s":1700000000,"region":"","request_id":"","resource_id":"","resource_name":"","resource_type":"","service":"exp\u2028orter","severity":"info","tenant_id":"t\u00e9nant/\u4e2d","trace_id":"","ua_browser":"","ua_device":"","ua_os":"","v":1}';
const PINNED_HASH_2 = '054b4a34e685cfb52885b3103f593200e307ad71cc9a15256c1f013c635490ba';

for (const layout of ['legacy', 'modern'] as const) {
  test(`a ${layout} row with escapes, unicode, integer-like attribute keys and absent optionals has the pinned text and hash`, () => {
    const row = toRow(EVENT2, META2, layout);
    const p = prepareRow(row);
    assert.equal(preparedText(p, '18446744073709551615', PREV2), PINNED_TEXT_2);
    assert.equal(preparedHash(p, '18446744073709551615', PREV2), PINNED_HASH_2);
    assert.equal(entryHashOf(chainContentFromRow(row), '18446744073709551615', PREV2), PINNED_HASH_2);
    assert.equal(canonicalEntryText({ ...chainContentFromRow(row), chain_seq: '18446744073709551615', prev_hash: PREV2 }), PINNED_TEXT_2);
  });
}

// A small seeded generator: the same rows on every run.
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const ALPHABET = ['a', 'Z', '0', ' ', '"', '\\', '/', '\n', '\u0000', '\u001f', '\u007f', '\u00e9', '\u2028', '\u4e2d', '\u{1F600}', '_', '-', '.'];

function generic(row: EventRow): PreparedEntry {
  return prepareContent(chainContentFromRow(row));
}

test('prepareRow equals the generic path on generated rows of both layouts', () => {
  const r = rng(42);
  const text = (max: number) => {
    let s = '';
    const n = Math.floor(r() * max);
    for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(r() * ALPHABET.length)];
    return s;
  };
  const opt = () => (r() < 0.3 ? null : r() < 0.5 ? undefined : text(12));
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)] as T;
  let compared = 0;
  for (let i = 0; i < 1000; i++) {
    const attributes: Record<string, string> = {};
    const na = Math.floor(r() * 6);
    for (let j = 0; j < na; j++) attributes[r() < 0.2 ? String(Math.floor(r() * 100)) : text(8)] = text(10);
    const event: AuditEventInput = {
      event_id: `0190A2B3-C4D5-7E6F-8A9B-${(i + 0x1000000000000).toString(16).slice(-12).toUpperCase()}`,
      tenant_id: `t${text(6)}`,
      occurred_at: Math.floor(r() * 4_000_000_000) * 1_000_000 + Math.floor(r() * 1_000_000),
      actor: {
        id: `u${text(8)}`,
        type: pick(['user', 'service', 'system', 'anonymous'] as const),
        name: opt(),
        session_id: opt(),
        ip: opt(),
        user_agent: opt(),
      },
      action: `a${text(8)}`,
      category: pick(['authentication', 'admin', 'system'] as const),
      outcome: pick(['success', 'failure', 'denied', 'error'] as const),
      reason: opt(),
      service: `s${text(5)}`,
      host: opt(),
      region: opt(),
      resource: r() < 0.3 ? null : { type: `r${text(4)}`, id: `i${text(4)}`, name: opt() },
      request_id: opt(),
      trace_id: opt(),
      severity: r() < 0.5 ? null : pick(['info', 'low', 'high'] as const),
      attributes: r() < 0.1 ? null : attributes,
    };
    const meta: IngestMeta = {
      received_at: Math.floor(r() * 4_000_000_000_000),
      ingested_at: 1,
      kafka_topic: `audit.${text(4) || 'x'}`,
      kafka_partition: Math.floor(r() * 64),
      kafka_offset: BigInt(Math.floor(r() * 2 ** 52)) * 4096n,
      geo_country: opt() ?? undefined,
      geo_city: opt() ?? undefined,
      ua_browser: opt() ?? undefined,
      ua_os: opt() ?? undefined,
      ua_device: opt() ?? undefined,
      severity: r() < 0.5 ? 'medium' : undefined,
    };
    for (const layout of ['legacy', 'modern'] as const) {
      const row = toRow(event, meta, layout);
      const seq = String(i + 1);
      assert.deepEqual(prepareRow(row), generic(row), `row ${i} (${layout})`);
      assert.equal(preparedHash(prepareRow(row), seq, GENESIS_HASH), entryHashOf(chainContentFromRow(row), seq, GENESIS_HASH));
      compared++;
    }
  }
  assert.equal(compared, 2000);
});

const base = (): LegacyEventRow => toRow(EVENT2, META2, 'legacy') as LegacyEventRow;

test('prepareRow equals the generic path on rows toRow would not build (unsorted, repeated, special keys; odd values)', () => {
  const cases: [string, EventRow][] = [
    ['unsorted legacy keys', { ...base(), attr_keys: ['b', 'a', 'c'], attr_values: ['2', '1', '3'] }],
    ['repeated legacy keys', { ...base(), attr_keys: ['a', 'a', 'b'], attr_values: ['1', '2', '3'] }],
    ['__proto__ legacy key', { ...base(), attr_keys: ['__proto__', 'a'], attr_values: ['x', 'y'] }],
    ['missing legacy values', { ...base(), attr_keys: ['a', 'b'], attr_values: ['1'] }],
    ['no attributes', { ...base(), attr_keys: [], attr_values: [] }],
    ['occurred_at past the doubles shortcut', { ...base(), occurred_at: 9_007_199_254, occurred_at_us: 740_993 }],
    ['lone surrogate and controls in values', { ...base(), reason: '\ud800x\u0007', host: '\udfff' }],
    ['uppercase event id', { ...base(), event_id: '0190A2B3-C4D5-7E6F-8A9B-0C1D2E3F4A5C' }],
  ];
  const modern = toRow(EVENT2, META2, 'modern') as ModernEventRow;
  const withProto: Record<string, string> = JSON.parse('{"__proto__":"x","b":"y"}');
  cases.push(['own __proto__ key in a modern map', { ...modern, attributes: withProto }]);
  cases.push(['unsorted modern map', { ...modern, attributes: { z: '1', a: '2' } }]);
  for (const [name, row] of cases) {
    assert.deepEqual(prepareRow(row), generic(row), name);
    assert.equal(preparedHash(prepareRow(row), '5', PREV2), preparedHash(generic(row), '5', PREV2), name);
  }
});

test('prepareRow and the generic path refuse the same bad values', () => {
  const bad: EventRow[] = [
    { ...base(), kafka_partition: 1.5 },
    { ...base(), received_at: Number.NaN },
    { ...base(), action: undefined as unknown as string },
  ];
  for (const row of bad) {
    assert.throws(() => generic(row), TypeError);
    assert.throws(() => prepareRow(row), TypeError);
  }
});

test('preparedHash checks every prev_hash but the hash it just returned', () => {
  const p = prepareContent(chainContentFromRow(toRow(EVENT2, META2, 'legacy')));
  assert.throws(() => preparedHash(p, '1', ''), /prev_hash must be 64 lowercase hex/);
  const h = preparedHash(p, '1', GENESIS_HASH);
  assert.equal(preparedHash(p, '2', h), entryHashOf(chainContentFromRow(toRow(EVENT2, META2, 'legacy')), '2', h));
  assert.throws(() => preparedHash(p, '2', h.toUpperCase()), /prev_hash must be 64 lowercase hex/);
  assert.throws(() => preparedHash(p, '2', h.slice(1)), /prev_hash must be 64 lowercase hex/);
});
