import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type AuditEventInput, type EventRow, type LegacyEventRow, RowBinaryWriter, toRow } from '@auditstream/clickhouse';
import { type ChainEntryFields, canonicalEntryText, entryHash, GENESIS_HASH } from './chain.js';
import { entryJson, entryJsonHash, storedEntryHash } from './entry.js';
import { contentHashV2, entryBytesV2, FORMAT2_FIELDS, rowHashV2, writeContentV2, writeRowV2 } from './entry-v2.js';
import { chainContentFromRow } from './fields.js';
import { PINNED_EVENT, PINNED_META } from './pinned-event.test-helper.js';

// Pins format 2's bytes: entries stored in it were hashed exactly so. The hash was also computed
// from PINNED_JSON by an independent Python encoder written from docs/integrity.md ("Entry formats").
// The event of chain-pin.test.ts, with integer-like and astral attribute keys and the producer's columns.
const EVENT = {
  ...PINNED_EVENT,
  attributes: { zeta: 'last', alpha: 'first', é: '✓', '10': 'ten', '9': 'nine', '😀': 'astral' },
  producer_id: '0190a2b3-0000-7000-8000-00000000beef',
  producer_seq: 9_007_199_254_740_993n, // above 2^53, which only a bigint holds
} as unknown as AuditEventInput;
const META = PINNED_META;
const PINNED_HASH = '2fbce393aa794afd8eaf844fd1f4557b7ebeff64bb77de184fdca767d174ad67';
const PINNED_JSON =
  '{"action":"auth.login","actor_id":"u-42","actor_ip":"203.0.113.7","actor_name":"Zoë \\"quoted\\" \\\\ back","actor_session_id":"",' +
  '"actor_type":"user","actor_user_agent":"Mozilla/5.0","attributes":{"10":"ten","9":"nine","alpha":"first","zeta":"last","é":"✓","😀":"astral"},' +
  '"category":"authentication","chain_seq":"7","event_id":"0190a2b3-c4d5-7e6f-8a9b-0c1d2e3f4a5b","geo_city":"Amsterdam","geo_country":"NL",' +
  '"host":"","kafka_offset":"123456789","kafka_partition":3,"kafka_topic":"audit.events","occurred_at_us":"1735689600123456","outcome":"failure",' +
  `"prev_hash":"${GENESIS_HASH}","producer_id":"0190a2b3-0000-7000-8000-00000000beef","producer_seq":"9007199254740993","reason":"bad password\\n",` +
  '"received_at_s":1735689601,"region":"eu-west-1","request_id":"req-1","resource_id":"a-1","resource_name":"","resource_type":"account",' +
  '"service":"sso","severity":"medium","tenant_id":"acme","trace_id":"","ua_browser":"Firefox","ua_device":"desktop","ua_os":"Linux","v":2}';

const fieldsOf = (row: EventRow, chainSeq = '7', prevHash = GENESIS_HASH): ChainEntryFields => ({
  ...chainContentFromRow(row),
  chain_seq: chainSeq,
  prev_hash: prevHash,
});

const bytesOf = (write: (w: RowBinaryWriter) => void): string => {
  const w = new RowBinaryWriter(16);
  write(w);
  return w.buf.subarray(0, w.pos).toString('hex');
};

test('format 2 is pinned: both layouts, the row path and the content path give the pinned hash', () => {
  for (const layout of ['legacy', 'modern'] as const) {
    const row = toRow(EVENT, META, layout);
    assert.equal(rowHashV2(row, 7n, GENESIS_HASH), PINNED_HASH, `${layout}: row path`);
    assert.equal(contentHashV2(fieldsOf(row), '7', GENESIS_HASH), PINNED_HASH, `${layout}: content path`);
    assert.equal(entryJson(2, fieldsOf(row)), PINNED_JSON, `${layout}: the entry a proof shows`);
  }
  assert.equal(entryJsonHash(PINNED_JSON, GENESIS_HASH), PINNED_HASH);
});

test('the field list is pinned: every chained field and the producer columns, ascending by name', () => {
  const names = FORMAT2_FIELDS.map(([k]) => k);
  assert.deepEqual(names, [...names].sort(), 'ascending');
  const row = toRow(EVENT, META, 'legacy');
  const { chain_seq: _s, prev_hash: _p, ...content } = fieldsOf(row);
  assert.deepEqual([...names].sort(), Object.keys(content).sort(), 'exactly the content fields');
});

test('the entries of the two formats can never be equal: format 1 continues with "{", format 2 with 0x02', () => {
  const f = fieldsOf(toRow(EVENT, META, 'legacy'));
  assert.equal(canonicalEntryText(f)[0], '{');
  assert.equal(entryBytesV2(f, f.chain_seq, f.prev_hash)[32], 0x02);
  assert.notEqual(entryHash(f), contentHashV2(f, f.chain_seq, f.prev_hash));
});

/** Rows that toRow may build, and rows it would not (the generic path must take them). */
function variants(): EventRow[] {
  const out: EventRow[] = [];
  for (const layout of ['legacy', 'modern'] as const) {
    out.push(toRow(EVENT, META, layout));
    out.push(
      toRow({ ...EVENT, producer_id: null, producer_seq: null, attributes: {} } as AuditEventInput, { ...META, kafka_offset: '18446744073709551615' }, layout),
    );
    out.push(toRow({ ...EVENT, attributes: { b: '', a: 'x', __proto__x: '1', '007': 'z' } }, { ...META, kafka_partition: 0 }, layout));
  }
  const legacy = toRow(EVENT, META, 'legacy') as LegacyEventRow;
  out.push({ ...legacy, attr_keys: ['b', 'a', 'b'], attr_values: ['1', '2', '3'] });
  out.push({ ...legacy, attr_keys: ['a', 'b'], attr_values: ['1'] });
  out.push({ ...legacy, occurred_at: 4_294_967_295, occurred_at_us: 999_999 });
  return out;
}

test('the row path writes what the content path writes, for every layout and attribute shape', () => {
  for (const [i, row] of variants().entries()) {
    assert.equal(
      bytesOf((w) => writeRowV2(w, row)),
      bytesOf((w) => writeContentV2(w, chainContentFromRow(row))),
      `variant ${i}`,
    );
  }
});

test('values no stored row can hold are refused by name, never encoded some other way', () => {
  const f = fieldsOf(toRow(EVENT, META, 'legacy'));
  const refused = (change: Partial<Record<keyof ChainEntryFields, unknown>>, what: RegExp) =>
    assert.throws(() => contentHashV2({ ...f, ...change } as ChainEntryFields, f.chain_seq, f.prev_hash), what);
  refused({ actor_name: 'lone \ud800 surrogate' }, /actor_name is not well-formed/);
  refused({ kafka_offset: '007' }, /kafka_offset must be canonical decimal/);
  refused({ producer_seq: '18446744073709551616' }, /producer_seq must be below 2\^64/);
  refused({ kafka_partition: -1 }, /kafka_partition must be a non-negative integer/);
  refused({ attributes: { k: 1 } }, /attributes\.k must be a string/);
  assert.throws(() => contentHashV2(f, f.chain_seq, GENESIS_HASH.toUpperCase().replace(/0/g, 'A')), /prev_hash must be 64 lowercase/);
  assert.throws(() => contentHashV2(f, '18446744073709551616', f.prev_hash), /chain_seq must be below 2\^64/);
});

test('a verifier finds the format each stored entry is in, and an altered entry hashes in neither', () => {
  const f = fieldsOf(toRow(EVENT, META, 'legacy'));
  const h1 = entryHash(f);
  const h2 = contentHashV2(f, f.chain_seq, f.prev_hash);
  assert.deepEqual(storedEntryHash(f, h1), { hash: h1, format: 1 });
  assert.deepEqual(storedEntryHash(f, h2, 1), { hash: h2, format: 2 });
  const altered = { ...f, producer_seq: '9007199254740994' };
  assert.deepEqual(storedEntryHash(altered, h2), { hash: contentHashV2(altered, f.chain_seq, f.prev_hash), format: 2 }, 'format 2 covers producer_seq');
  assert.deepEqual(storedEntryHash(altered, h1), { hash: h1, format: 1 }, 'format 1 never hashed producer_seq');
  assert.deepEqual(storedEntryHash({ ...f, prev_hash: 'not hex' }, h1), { hash: '', format: undefined }, 'fields no entry can have');
});

test('the entry JSON of a proof: format 1 is hashed as text, format 2 must list exactly its fields', () => {
  const f = fieldsOf(toRow(EVENT, META, 'legacy'));
  assert.equal(entryJsonHash(entryJson(1, f), f.prev_hash), entryHash(f));
  const json = JSON.parse(entryJson(2, f));
  assert.throws(() => entryJsonHash(JSON.stringify({ ...json, note: 'x' }), f.prev_hash), /missing or unknown field: note/);
  const { producer_seq: _gone, ...without } = json;
  assert.throws(() => entryJsonHash(JSON.stringify(without), f.prev_hash), /missing or unknown field: producer_seq/);
  assert.throws(() => entryJsonHash(JSON.stringify({ ...json, v: 3 }), f.prev_hash), /no known format/);
  assert.throws(() => entryJsonHash(JSON.stringify({ ...json, kafka_offset: Number(json.kafka_offset) }), f.prev_hash), /kafka_offset must be decimal text/);
  assert.throws(
    () => entryJsonHash(JSON.stringify({ ...json, kafka_partition: String(json.kafka_partition) }), f.prev_hash),
    /kafka_partition must be a JSON number/,
  );
  assert.throws(() => entryJsonHash('[1]', f.prev_hash), /not a JSON object/);
  assert.notEqual(entryJsonHash(JSON.stringify({ ...json, reason: 'other' }), f.prev_hash), PINNED_HASH);
});
