import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AuditstreamError } from '@auditstream/core';
import type { AuditEventInput } from '@auditstream/schemas';
import { createCodec } from './codec.js';

// Every string value is unique, so its bytes can be found in the encoding and the payload cut
// inside them. avsc shares one `string` Type across all these fields: the guard must still
// name the one the body really ended in, not the first field that shares the Type (event_id).
const event: AuditEventInput = {
  event_id: '01890f5c-3b2a-7cde-8f01-23456789abcd',
  tenant_id: 'tenant-aaaa',
  occurred_at: 1_714_564_800_123_457,
  actor: { id: 'actor-bbbb', type: 'user', name: 'name-cccc', session_id: 'sess-dddd', ip: '203.0.113.9', user_agent: 'agent-eeee' },
  action: 'auth.login_ffff',
  category: 'authentication',
  outcome: 'failure',
  reason: 'reason-gggg',
  service: 'service-hhhh',
  host: 'host-iiii',
  region: 'region-jjjj',
  resource: { type: 'rtype-kkkk', id: 'rid-llll', name: 'rname-mmmm' },
  request_id: 'req-nnnn',
  trace_id: 'trace-oooo',
  attributes: { 'key-pppp': 'value-qqqq' },
};

const STRING_FIELDS: Array<[string, string]> = [
  ['event_id', event.event_id],
  ['tenant_id', 'tenant-aaaa'],
  ['actor.id', 'actor-bbbb'],
  ['actor.name', 'name-cccc'],
  ['actor.session_id', 'sess-dddd'],
  ['actor.ip', '203.0.113.9'],
  ['actor.user_agent', 'agent-eeee'],
  ['action', 'auth.login_ffff'],
  ['reason', 'reason-gggg'],
  ['service', 'service-hhhh'],
  ['host', 'host-iiii'],
  ['region', 'region-jjjj'],
  ['resource.type', 'rtype-kkkk'],
  ['resource.id', 'rid-llll'],
  ['resource.name', 'rname-mmmm'],
  ['request_id', 'req-nnnn'],
  ['trace_id', 'trace-oooo'],
];

function decodeError(bytes: Buffer): AuditstreamError {
  try {
    createCodec().decodeSync(bytes);
  } catch (err) {
    assert.ok(err instanceof AuditstreamError, String(err));
    return err;
  }
  assert.fail('decoded a broken payload');
}

test('a payload truncated inside a string names that field, whichever it is', () => {
  const bytes = createCodec().encodeSync(event);
  for (const [field, value] of STRING_FIELDS) {
    const at = bytes.indexOf(Buffer.from(value));
    assert.ok(at > 10, `${field}'s bytes found`);
    const err = decodeError(bytes.subarray(0, at + 2));
    assert.equal(err.code, 'CODEC_TRUNCATED', field);
    assert.equal(err.field, field);
    assert.match(err.message, new RegExp(`payload ends inside ${field.replace('.', '\\.')}$`), field);
    assert.ok(!err.message.includes(value), 'never the value');
  }
});

test('truncations inside enums, unions, the timestamp and the attributes map name them too', () => {
  const bytes = createCodec().encodeSync(event);
  const cut = (value: string) => decodeError(bytes.subarray(0, bytes.indexOf(Buffer.from(value)) + 2));
  assert.match(cut('key-pppp').message, /payload ends inside attributes key$/);
  assert.equal(cut('key-pppp').field, 'attributes');
  assert.match(cut('value-qqqq').message, /payload ends inside attributes\{\}$/);
  // Right after tenant_id: the occurred_at varint is cut.
  const tenantEnd = bytes.indexOf(Buffer.from('tenant-aaaa')) + 'tenant-aaaa'.length;
  assert.match(decodeError(bytes.subarray(0, tenantEnd)).message, /payload ends inside occurred_at$/);
  // Right after the action: the category enum index is missing.
  const actionEnd = bytes.indexOf(Buffer.from('auth.login_ffff')) + 'auth.login_ffff'.length;
  assert.equal(decodeError(bytes.subarray(0, actionEnd)).field, 'category');
  // Right after trace_id: the severity enum index is missing.
  const traceEnd = bytes.indexOf(Buffer.from('trace-oooo')) + 'trace-oooo'.length;
  assert.equal(decodeError(bytes.subarray(0, traceEnd)).field, 'severity');
  // A hostile block count in the map names the map.
  const mapAt = bytes.indexOf(Buffer.from('key-pppp')) - 2;
  const hostile = Buffer.concat([bytes.subarray(0, mapAt), Buffer.from([0xfe, 0xff, 0xff, 0x0f])]);
  assert.match(decodeError(hostile).message, /payload ends inside attributes \(block of \d+ items\)$/);
});

test('a corrupt enum or union index names its field', () => {
  const bytes = Buffer.from(createCodec().encodeSync(event));
  // The reason union index sits right after the outcome enum, just before 'reason-gggg''s length.
  const reasonAt = bytes.indexOf(Buffer.from('reason-gggg'));
  const broken = Buffer.from(bytes);
  broken[reasonAt - 2] = 0x08; // union branch 4 of ["null", "string"]
  const err = decodeError(broken);
  assert.equal(err.code, 'CODEC_CORRUPT');
  assert.match(err.message, /union branch 4 out of range in reason$/);
  const badOutcome = Buffer.from(bytes);
  badOutcome[reasonAt - 3] = 0x7e; // outcome enum index 63
  assert.match(decodeError(badOutcome).message, /enum index 63 out of range in outcome$/);
});

test('trailing bytes after a whole body are CODEC_CORRUPT, counted', () => {
  const bytes = createCodec().encodeSync(event);
  const err = decodeError(Buffer.concat([bytes, Buffer.from([0, 0, 0])]));
  assert.equal(err.code, 'CODEC_CORRUPT');
  assert.match(err.message, /followed by 3 unexpected trailing bytes/);
});

test('a fingerprint that is neither the current schema nor history is CODEC_UNKNOWN_FINGERPRINT, naming it', () => {
  const bytes = Buffer.from(createCodec().encodeSync(event));
  bytes.fill(0xab, 2, 10);
  const err = decodeError(bytes);
  assert.equal(err.code, 'CODEC_UNKNOWN_FINGERPRINT');
  assert.match(err.message, /fingerprint abababababababab/);
});

test('the guard caches per Type, not per field: a second decode of another cut still names the right field', () => {
  const codec = createCodec();
  const bytes = codec.encodeSync(event);
  for (const [field, value] of [...STRING_FIELDS].reverse()) {
    assert.throws(
      () => codec.decodeSync(bytes.subarray(0, bytes.indexOf(Buffer.from(value)) + 1)),
      (e: unknown) => e instanceof AuditstreamError && e.field === field,
    );
  }
  assert.equal(codec.decodeSync(bytes).actor.user_agent, 'agent-eeee', 'and whole payloads still decode');
});
