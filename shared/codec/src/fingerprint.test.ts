import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { auditEventSchema, auditEventType } from '@auditstream/schemas';
import { crc64Avro, parsingCanonicalForm, schemaFingerprint } from './fingerprint.js';

// Vectors from the Apache Avro project (share/test/data/schema-tests.txt): input schema,
// its Parsing Canonical Form, and the CRC-64-AVRO fingerprint as Java's signed long.
const VECTORS: Array<[string, string, bigint]> = [
  ['"null"', '"null"', 7195948357588979594n],
  ['{"type":"null"}', '"null"', 7195948357588979594n],
  ['"boolean"', '"boolean"', -6970731678124411036n],
  ['"int"', '"int"', 8247732601305521295n],
  ['{"type":"int"}', '"int"', 8247732601305521295n],
  ['"long"', '"long"', -3434872931120570953n],
  ['"float"', '"float"', 5583340709985441680n],
  ['"double"', '"double"', -8181574048448539266n],
  ['"bytes"', '"bytes"', 5746618253357095269n],
  ['"string"', '"string"', -8142146995180207161n],
  ['[  ]', '[]', -1241056759729112623n],
  ['[ "int" , {"type":"boolean"} ]', '["int","boolean"]', 5392556393470105090n],
  ['{"fields":[], "type":"record", "name":"foo"}', '{"name":"foo","type":"record","fields":[]}', -4824392279771201922n],
  ['{"fields":[], "type":"record", "name":"foo", "namespace":"x.y"}', '{"name":"x.y.foo","type":"record","fields":[]}', 5916914534497305771n],
  ['{"fields":[], "type":"record", "name":"a.b.foo", "namespace":"x.y"}', '{"name":"a.b.foo","type":"record","fields":[]}', -4616218487480524110n],
  ['{"fields":[], "type":"record", "name":"foo", "doc":"foo", "aliases":["foo","bar"]}', '{"name":"foo","type":"record","fields":[]}', -4824392279771201922n],
  [
    '{"fields":[{"type":{"type":"boolean"}, "name":"f1"}], "type":"record", "name":"foo"}',
    '{"name":"foo","type":"record","fields":[{"name":"f1","type":"boolean"}]}',
    7843277075252814651n,
  ],
  [
    '{ "fields":[{"type":"boolean", "aliases":[], "name":"f1", "default":true}, {"order":"descending","name":"f2","doc":"Hello","type":"int"}],"type":"record", "name":"foo"}',
    '{"name":"foo","type":"record","fields":[{"name":"f1","type":"boolean"},{"name":"f2","type":"int"}]}',
    -4860222112080293046n,
  ],
  ['{"type":"enum", "name":"foo", "symbols":["A1"]}', '{"name":"foo","type":"enum","symbols":["A1"]}', -6342190197741309591n],
  [
    '{"namespace":"x.y.z", "type":"enum", "name":"foo", "doc":"foo bar", "symbols":["A1", "A2"]}',
    '{"name":"x.y.z.foo","type":"enum","symbols":["A1","A2"]}',
    -4448647247586288245n,
  ],
  ['{"name":"foo","type":"fixed","size":15}', '{"name":"foo","type":"fixed","size":15}', 1756455273707447556n],
  ['{"namespace":"x.y.z", "type":"fixed", "name":"foo", "doc":"foo bar", "size":32}', '{"name":"x.y.z.foo","type":"fixed","size":32}', -3064184465700546786n],
  ['{ "items":{"type":"null"}, "type":"array"}', '{"type":"array","items":"null"}', -589620603366471059n],
  ['{ "values":"string", "type":"map"}', '{"type":"map","values":"string"}', -8732877298790414990n],
  [
    '{"name":"PigValue","type":"record", "fields":[{"name":"value", "type":["null", "int", "long", "PigValue"]}]}',
    '{"name":"PigValue","type":"record","fields":[{"name":"value","type":["null","int","long","PigValue"]}]}',
    -1759257747318642341n,
  ],
];

const unsigned = (n: bigint) => BigInt.asUintN(64, n);

test('canonical form and CRC-64-AVRO match the Avro specification vectors', () => {
  for (const [input, canonical, fp] of VECTORS) {
    const pcf = parsingCanonicalForm(JSON.parse(input));
    assert.equal(pcf, canonical, input);
    assert.equal(crc64Avro(pcf), unsigned(fp), input);
  }
});

test('the fingerprint of "int" is written little-endian: 8f 5c 39 3f 1a d5 75 72', () => {
  assert.equal(unsigned(8247732601305521295n).toString(16), '7275d51a3f395c8f');
  assert.equal(schemaFingerprint('int').toString('hex'), '8f5c393f1ad57572');
});

test('canonical form of the contract agrees with avsc, and strips docs, defaults and logical types', () => {
  const pcf = parsingCanonicalForm(auditEventSchema);
  assert.equal(pcf, JSON.stringify(auditEventType.schema()));
  assert.doesNotMatch(pcf, /"doc"|"default"|logicalType|namespace/);
  assert.match(pcf, /^\{"name":"io\.auditstream\.AuditEvent","type":"record","fields":\[/);
  // avsc has no CRC-64-AVRO (crypto hashes only): its md5 is over the same canonical text.
  assert.equal(auditEventType.fingerprint('md5').toString('hex'), createHash('md5').update(pcf).digest('hex'));
});
