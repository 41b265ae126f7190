import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AuditstreamError } from '@auditstream/core';
import { rowBinaryEncoder, writerFor } from './row-binary.js';
import { enum8, eventColumnTypes } from './schema.js';

// Byte layouts from ClickHouse's RowBinary documentation; the integration and chDB tests compare
// whole rows with what the servers themselves write.
const hex = (b: Buffer) => b.toString('hex');
const one = (type: string, v: unknown) => hex(rowBinaryEncoder([{ name: 'c', type }])([{ c: v }], 0, 1));

test('strings: a varint byte length, then UTF-8; ASCII, non-ASCII and lengths past one varint byte', () => {
  assert.equal(one('String', 'ab'), '026162');
  assert.equal(one('String', ''), '00');
  assert.equal(one('String', 'é€'), `05${Buffer.from('é€').toString('hex')}`);
  assert.equal(one('String', '😀'), '04f09f9880');
  const long = 'x'.repeat(200);
  assert.equal(one('String', long), `c801${Buffer.from(long).toString('hex')}`);
  // 127 ASCII characters still take the one-byte length; 50 three-byte characters (150 bytes) do not.
  assert.equal(one('String', 'y'.repeat(127)).slice(0, 2), '7f');
  assert.equal(one('String', '€'.repeat(50)).slice(0, 4), '9601');
  assert.equal(one('LowCardinality(String)', 'ab'), '026162', 'LowCardinality is the plain type in RowBinary');
});

test('integers little-endian; UInt64 from decimal text above 2^53 and from numbers', () => {
  assert.equal(one('UInt16', 513), '0102');
  assert.equal(one('UInt32', 4294967295), 'ffffffff');
  assert.equal(one('UInt64', '1'), '0100000000000000');
  assert.equal(one('UInt64', 2 ** 40 + 5), '0500000000010000');
  assert.equal(one('UInt64', '18446744073709551615'), 'ffffffffffffffff');
  assert.equal(one('UInt64', '9007199254740993'), '0100000000002000', '2^53 + 1 exactly, not rounded');
});

test('UUID as two little-endian UInt64 halves; Enum8 as its number; DateTime as UInt32 seconds', () => {
  assert.equal(one('UUID', '00112233-4455-6677-8899-aabbccddeeff'), '7766554433221100ffeeddccbbaa9988');
  assert.equal(one('UUID', '00112233-4455-6677-8899-AABBCCDDEEFF'), '7766554433221100ffeeddccbbaa9988');
  assert.equal(one(enum8(['info', 'low', 'medium', 'high']), 'high'), '04');
  assert.equal(one("DateTime('UTC')", 1_700_000_000), Buffer.from([0x00, 0xf1, 0x53, 0x65]).toString('hex'));
});

test('DateTime64 ticks from the text toRow writes; arrays and maps with varint counts', () => {
  const us = Date.UTC(2026, 11, 4, 6, 0, 0) * 1000 + 123456;
  const le = (n: number) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(n));
    return hex(b);
  };
  assert.equal(one("DateTime64(6, 'UTC')", '2026-12-04 06:00:00.123456'), le(us));
  assert.equal(one("DateTime64(3, 'UTC')", '2026-12-04 06:00:00.123'), le(Math.floor(us / 1000)));
  assert.equal(one("DateTime64(3, 'UTC')", '2026-12-04 06:00:00'), le(Math.floor(us / 1e6) * 1000));
  assert.equal(one('Array(String)', ['a', 'bc']), '020161026263');
  assert.equal(one('Array(String)', []), '00');
  assert.equal(one('Map(String, String)', { k: 'v', kk: '' }), '02016b0176026b6b00');
});

test('a column absent from the row is its type default, as JSONEachRow fills it', () => {
  const enc = rowBinaryEncoder([
    { name: 'producer_id', type: 'String' },
    { name: 'producer_seq', type: 'UInt64' },
    { name: 'attr_keys', type: 'Array(String)' },
  ]);
  assert.equal(hex(enc([{}], 0, 1)), '00000000000000000000');
});

test('a value of the wrong type throws CLICKHOUSE_DATA naming the column; an unknown type is a schema error', () => {
  const cases: [string, unknown][] = [
    ['String', 5],
    ['UInt16', 70000],
    ['UInt32', -1],
    ['UInt64', '-3'],
    ['UInt64', '18446744073709551616'],
    ['UInt64', 'abc'],
    ['UUID', 'not-a-uuid'],
    ['UUID', '00112233-4455-6677-8899-aabbccddeexx'],
    [enum8(['a']), 'b'],
    ["DateTime('UTC')", 1.5],
    ["DateTime64(6, 'UTC')", '2026-12-04T06:00:00Z'],
    ['Array(String)', 'a'],
    ['Map(String, String)', ['a']],
  ];
  for (const [type, v] of cases)
    assert.throws(
      () => one(type, v),
      (e: unknown) => e instanceof AuditstreamError && e.code === 'CLICKHOUSE_DATA' && e.field === 'c' && /column c /.test(e.message),
      `${type} ${JSON.stringify(v)}`,
    );
  assert.throws(
    () => writerFor('c', 'Decimal(9, 2)'),
    (e: unknown) => e instanceof AuditstreamError && e.code === 'CLICKHOUSE_SCHEMA',
  );
});

test('every events column of both layouts has an encoder; chunks are independent buffers', () => {
  for (const layout of ['legacy', 'modern'] as const) rowBinaryEncoder(eventColumnTypes(layout));
  const enc = rowBinaryEncoder([{ name: 'c', type: 'String' }]);
  const rows = [{ c: 'first' }, { c: 'second' }];
  const a = enc(rows, 0, 1);
  const b = enc(rows, 1, 2);
  assert.equal(a.toString('latin1').slice(1), 'first', 'the second chunk does not overwrite the first');
  assert.equal(b.toString('latin1').slice(1), 'second');
});
