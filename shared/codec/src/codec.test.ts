import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AuditstreamError } from '@auditstream/core';
import { type AuditEventInput, type AvroSchema, auditEventSchema } from '@auditstream/schemas';
import { createCodec } from './codec.js';
import { startFakeRegistry } from './fake-registry.test-helper.js';
import { schemaFingerprint } from './fingerprint.js';
import { payloadBody, readFrame } from './frame.js';

const event: AuditEventInput = {
  event_id: '01890f5c-3b2a-7cde-8f01-23456789abcd',
  tenant_id: 'acme',
  occurred_at: 1_714_564_800_123_457,
  actor: { id: 'u-1', type: 'user', ip: '203.0.113.9' },
  action: 'auth.login',
  category: 'authentication',
  outcome: 'failure',
  reason: 'invalid_password',
  service: 'sso',
  attributes: { mfa: 'false' },
};

function isCode(code: string | RegExp) {
  return (e: unknown) => e instanceof AuditstreamError && (typeof code === 'string' ? e.code === code : code.test(e.code));
}

/** The contract plus one optional field: a stand-in for a future v2. */
function v2Schema(): AvroSchema {
  const s = structuredClone(auditEventSchema) as { fields: unknown[] };
  s.fields.push({ name: 'geo_country', type: ['null', 'string'], default: null, doc: 'Country of the source IP.' });
  return s as AvroSchema;
}

test('single-object encoding: C3 01, little-endian CRC-64-AVRO fingerprint, Avro body; round trip keeps microseconds', () => {
  const codec = createCodec();
  assert.equal(codec.format, 'single-object');
  const bytes = codec.encodeSync(event);
  assert.deepEqual([...bytes.subarray(0, 2)], [0xc3, 0x01]);
  assert.ok(bytes.subarray(2, 10).equals(schemaFingerprint(auditEventSchema)));
  const frame = readFrame(bytes);
  assert.equal(frame.format, 'single-object');
  assert.equal(payloadBody(bytes).length, bytes.length - 10);
  const back = codec.decodeSync(bytes);
  assert.equal(back.occurred_at, 1_714_564_800_123_457);
  assert.equal(back.actor.ip, '203.0.113.9');
  assert.equal(back.actor.name, null);
  assert.equal(back.severity, 'info');
  assert.equal(back.resource, null);
  assert.deepEqual({ ...back.attributes }, { mfa: 'false' });
});

test('encoding reuses a scratch buffer but returns independent buffers, and grows for large events', () => {
  const codec = createCodec();
  const a = codec.encodeSync(event);
  const b = codec.encodeSync({ ...event, tenant_id: 'other' });
  assert.equal(codec.decodeSync(a).tenant_id, 'acme');
  assert.equal(codec.decodeSync(b).tenant_id, 'other');
  const big = codec.encodeSync({ ...event, attributes: { blob: 'x'.repeat(200_000) } });
  assert.equal(codec.decodeSync(big).attributes.blob?.length, 200_000);
});

test('an invalid event names the field, never the value', () => {
  const codec = createCodec();
  assert.throws(
    () => codec.encodeSync({ ...event, category: 'secret-category-value' as never }),
    (e: unknown) => isCode('CODEC_INVALID_EVENT')(e) && (e as AuditstreamError).field === 'category' && !/secret-category-value/.test((e as Error).message),
  );
  assert.throws(
    () => codec.encodeSync({ ...event, actor: { id: 'u', type: 'user', ip: 42 as never } }),
    (e: unknown) => (e as AuditstreamError).field === 'actor.ip',
  );
});

test('old-version payloads resolve to the current reader; unknown fingerprints are refused', () => {
  const v1Bytes = createCodec().encodeSync(event);
  const v2 = createCodec({ schema: v2Schema() });
  const read = v2.decodeSync(v1Bytes) as unknown as Record<string, unknown>;
  assert.equal(read.geo_country, null, 'new field defaulted');
  assert.equal(read.occurred_at, event.occurred_at);

  const v2Bytes = v2.encodeSync({ ...event, geo_country: 'NL' } as AuditEventInput);
  assert.throws(
    () => createCodec().decodeSync(v2Bytes),
    (e: unknown) => isCode('CODEC_UNKNOWN_FINGERPRINT')(e) && /fingerprint [0-9a-f]{16}/.test((e as Error).message),
  );
  // Told about the writer, an old reader drops the field it does not know.
  const old = createCodec({ writerSchemas: [v2Schema()] });
  assert.equal(old.decodeSync(v2Bytes).tenant_id, 'acme');
});

test('every truncation of a payload is reported as CODEC_TRUNCATED', () => {
  const codec = createCodec();
  const bytes = codec.encodeSync(event);
  for (let len = 0; len < bytes.length; len++) {
    assert.throws(() => codec.decodeSync(bytes.subarray(0, len)), isCode('CODEC_TRUNCATED'), `prefix of ${len} bytes`);
  }
  assert.throws(() => codec.decodeSync(Buffer.concat([bytes, Buffer.from([0])])), isCode('CODEC_CORRUPT'), 'trailing byte');
});

test('garbage is refused with a codec error, never a hang or a crash', () => {
  const codec = createCodec();
  assert.throws(
    () => codec.decodeSync(Buffer.from('{"event_id":"x"}')),
    (e: unknown) => isCode('CODEC_NOT_AVRO')(e) && /JSON/.test((e as Error).message),
  );
  assert.throws(() => codec.decodeSync(Buffer.from([0xc3, 0x02, 1, 2, 3, 4, 5, 6, 7, 8, 9])), isCode('CODEC_NOT_AVRO'));
  assert.throws(() => codec.decodeSync(Buffer.from([0x4f, 0x62, 0x6a, 0x01])), isCode('CODEC_NOT_AVRO'));

  // A hostile block count after a valid header: avsc alone would loop for hours.
  const header = codec.encodeSync(event).subarray(0, 10);
  const body = Buffer.from([2, 0x78, 2, 0x78, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40]);
  const hostile = Buffer.concat([header, body]);
  const t0 = Date.now();
  assert.throws(() => codec.decodeSync(hostile), isCode(/^CODEC_(TRUNCATED|CORRUPT)$/));
  assert.ok(Date.now() - t0 < 1000);

  // Random bodies behind a valid header, deterministic seed.
  let seed = 42;
  const rnd = () => {
    seed = (seed * 1_103_515_245 + 12_345) >>> 0;
    return seed >>> 16;
  };
  const valid = codec.encodeSync(event);
  let refused = 0;
  for (let i = 0; i < 2000; i++) {
    const len = 10 + (rnd() % 120);
    const buf = Buffer.alloc(len);
    header.copy(buf);
    for (let j = 10; j < len; j++) buf[j] = rnd() & 0xff;
    // Half of the cases: a valid payload with a few flipped bytes.
    const sample = i % 2 === 0 ? buf : Buffer.from(valid).fill(rnd() & 0xff, 10 + (rnd() % (valid.length - 10)), 11 + (rnd() % (valid.length - 10)));
    try {
      codec.decodeSync(sample);
    } catch (e) {
      assert.ok(e instanceof AuditstreamError && /^CODEC_/.test(e.code), `unexpected ${String(e)}`);
      refused++;
    }
  }
  assert.ok(refused > 1000);
});

test('Confluent framing against a fake registry: registers once, fetches ids once, decodes both formats', async (t) => {
  const reg = await startFakeRegistry('/apis/ccompat/v7');
  t.after(() => reg.close());
  const producer = createCodec({ registryUrl: `${reg.url}/` });
  assert.equal(producer.format, 'confluent');
  assert.equal(producer.isReady('audit.events'), false);
  assert.throws(() => producer.encodeSync(event, 'audit.events'), isCode('CODEC_NOT_READY'));
  const bytes = await producer.encode(event, 'audit.events');
  await producer.encode(event, 'audit.events');
  assert.equal(bytes[0], 0);
  const frame = readFrame(bytes);
  assert.ok(frame.format === 'confluent' && frame.schemaId === 1);
  assert.deepEqual(reg.requests, ['POST /subjects/audit.events-value/versions']);
  assert.equal(producer.decodeSync(bytes).occurred_at, event.occurred_at, 'own id is known without a fetch');

  const consumer = createCodec({ registryUrl: reg.url });
  assert.throws(() => consumer.decodeSync(bytes), isCode('CODEC_SCHEMA_NOT_LOADED'));
  const [a, b] = await Promise.all([consumer.decode(bytes), consumer.decode(bytes)]);
  assert.equal(a.tenant_id, 'acme');
  assert.equal(b.occurred_at, event.occurred_at);
  assert.equal(consumer.decodeSync(bytes).action, 'auth.login');
  assert.deepEqual(reg.requests.slice(1), ['GET /schemas/ids/1'], 'concurrent decodes share one fetch, then the cache answers');

  // Single-object payloads are accepted by a registry-configured codec too.
  assert.equal((await consumer.decode(createCodec().encodeSync(event))).tenant_id, 'acme');

  // An old writer registered under another id resolves to the current reader.
  const v2 = createCodec({ registryUrl: reg.url, schema: v2Schema() });
  const v2Bytes = await v2.encode({ ...event, geo_country: 'NL' } as AuditEventInput, 'audit.events');
  assert.equal(readFrame(v2Bytes).format, 'confluent');
  assert.equal((await consumer.decode(v2Bytes)).tenant_id, 'acme');

  await assert.rejects(
    consumer.decode(Buffer.from([0, 0, 0, 0, 99, 2])),
    (e: unknown) => isCode('CODEC_UNKNOWN_SCHEMA_ID')(e) && /99/.test((e as Error).message),
  );
  assert.throws(() => createCodec().decodeSync(bytes), isCode('CODEC_UNKNOWN_SCHEMA_ID'), 'no registry configured');
});

test('registry failures: 5xx is retried, unreachable is retriable, 409 is not', async (t) => {
  const reg = await startFakeRegistry();
  t.after(() => reg.close());
  reg.failNext(503, 1);
  const codec = createCodec({ registryUrl: reg.url });
  await codec.prepare('t1');
  assert.equal(reg.requests.length, 2, 'one 503, then success');

  reg.failNext(409, 1);
  await assert.rejects(
    createCodec({ registryUrl: reg.url }).prepare('t2'),
    (e: unknown) => isCode('CODEC_REGISTRY_INCOMPATIBLE')(e) && !(e as AuditstreamError).retriable,
  );

  const down = createCodec({ registryUrl: 'http://user:hunter2@127.0.0.1:1', registryTimeoutMs: 500 });
  await assert.rejects(
    down.encode(event, 'audit.events'),
    (e: unknown) => isCode('CODEC_REGISTRY_UNREACHABLE')(e) && (e as AuditstreamError).retriable && !/hunter2/.test((e as Error).message),
  );
});
