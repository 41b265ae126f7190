import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createCodec } from '@auditstream/codec';
import { uuidv7 } from '@auditstream/core';
import type { AuditEventInput } from '@auditstream/schemas';
import type { AlertEvent } from './event.js';
import { createEventGate } from './gate.js';

const codec = createCodec();
const at = 1_700_000_000_000; // the Kafka timestamp
const valid: AuditEventInput = {
  event_id: uuidv7(at),
  tenant_id: 'acme',
  occurred_at: at * 1000,
  actor: { id: 'victim', type: 'user', ip: '198.51.100.10' },
  action: 'auth.login',
  category: 'authentication',
  outcome: 'failure',
  service: 'idp',
};
const gate = createEventGate({ decode: (v) => codec.decodeSync(v) as unknown as AlertEvent, maxMessageBytes: 4096 });
const reasonOf = async (value: Buffer | null, ts = at) => {
  const a = await gate(value, ts);
  return a.ok ? 'ok' : a.reason;
};

test('the gate admits what ingest stores and discards each class ingest dead-letters, with its error class', async () => {
  const bytes = codec.encodeSync(valid);
  assert.equal(await reasonOf(bytes), 'ok');
  assert.equal(await reasonOf(codec.encodeSync({ ...valid, event_id: '01890f5c-3b2a-4cde-8f01-23456789abcd' })), 'invalid', 'UUIDv4');
  assert.equal(await reasonOf(codec.encodeSync({ ...valid, action: 'Login' })), 'invalid');
  assert.equal(await reasonOf(codec.encodeSync({ ...valid, actor: { ...valid.actor, ip: '300.1.2.3' } })), 'invalid');
  assert.equal(await reasonOf(codec.encodeSync({ ...valid, actor: { ...valid.actor, id: '' } })), 'invalid');
  assert.equal(await reasonOf(codec.encodeSync({ ...valid, reason: '' })), 'invalid', '"" in an optional string');
  assert.equal(await reasonOf(bytes, at + 8 * 24 * 3_600_000), 'invalid', 'out of window against the Kafka timestamp');
  assert.equal(await reasonOf(bytes.subarray(0, bytes.length - 3)), 'not_avro', 'truncated');
  assert.equal(await reasonOf(Buffer.concat([bytes, Buffer.from([0])])), 'not_avro', 'trailing bytes');
  const wrongFp = Buffer.from(bytes);
  wrongFp.fill(0xab, 2, 10);
  assert.equal(await reasonOf(wrongFp), 'unknown_schema');
  assert.equal(await reasonOf(Buffer.alloc(0)), 'not_avro');
  assert.equal(await reasonOf(null), 'not_avro');
  assert.equal(await reasonOf(codec.encodeSync({ ...valid, attributes: { blob: 'x'.repeat(5000) } })), 'oversize');
});
