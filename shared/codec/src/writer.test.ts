import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type AvroSchema, auditEventSchema, auditEventType, typeForSchema } from '@auditstream/schemas';
import { createCodec } from './codec.js';
import { compileWriter, INVALID_VALUE } from './writer.js';

// A deterministic PRNG, so a failure can be replayed.
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const PIECES = ['a', 'Z', '0', '.', ' ', '-', '_', 'é', 'ß', '✓', '中', '😀', '\u0000', '\u007f', '\u0080', '\u07ff', '\u0800', '\uffff', '"', '\\'];

function randomString(r: () => number, max: number): string {
  const n = Math.floor(r() * r() * max);
  let s = '';
  const asciiOnly = r() < 0.7;
  for (let i = 0; i < n; i++) s += asciiOnly ? String.fromCharCode(32 + Math.floor(r() * 95)) : (PIECES[Math.floor(r() * PIECES.length)] as string);
  return s;
}

function maybe<T>(r: () => number, v: () => T): T | null | undefined {
  const x = r();
  return x < 0.3 ? null : x < 0.45 ? undefined : v();
}

function randomEvent(r: () => number): Record<string, unknown> {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)] as T;
  const attributes: Record<string, string> = {};
  const nAttr = r() < 0.3 ? 0 : Math.floor(r() * 70);
  for (let i = 0; i < nAttr; i++) attributes[randomString(r, 12) || `k${i}`] = randomString(r, 40);
  const us = [0, 1, -1, 63, 64, -64, -65, 2 ** 30 - 1, 2 ** 30, -(2 ** 30), -(2 ** 30) - 1, 2 ** 31, 2 ** 53 - 2, -(2 ** 53) + 2];
  return {
    event_id: randomString(r, 40),
    tenant_id: randomString(r, 20),
    occurred_at: r() < 0.3 ? pick(us) : Math.floor(r() * 2 ** 52) * (r() < 0.1 ? -1 : 1),
    actor: {
      id: randomString(r, 30),
      type: pick(['user', 'service', 'system', 'anonymous']),
      name: maybe(r, () => randomString(r, 200)),
      session_id: maybe(r, () => randomString(r, 20)),
      ip: maybe(r, () => randomString(r, 40)),
      user_agent: maybe(r, () => randomString(r, 300)),
    },
    action: randomString(r, 30),
    category: pick(['authentication', 'authorization', 'resource_access', 'configuration', 'data_export', 'admin', 'system']),
    outcome: pick(['success', 'failure', 'denied', 'error']),
    reason: maybe(r, () => randomString(r, 30)),
    service: randomString(r, 20),
    host: maybe(r, () => randomString(r, 20)),
    region: maybe(r, () => randomString(r, 10)),
    resource: maybe(r, () => ({ type: randomString(r, 10), id: randomString(r, 70), name: maybe(r, () => randomString(r, 20)) })),
    request_id: maybe(r, () => randomString(r, 36)),
    trace_id: maybe(r, () => randomString(r, 55)),
    severity: r() < 0.3 ? undefined : pick(['info', 'low', 'medium', 'high', 'critical']),
    attributes: r() < 0.2 ? undefined : attributes,
  };
}

function stripUndefined(v: Record<string, unknown>): Record<string, unknown> {
  // avsc and the compiled writer both treat an absent field like undefined: write its default.
  return JSON.parse(JSON.stringify(v));
}

test('the compiled writer writes exactly avsc bytes for 10,000 random events (ASCII, UTF-8, long strings, big maps, defaults, varint edges)', () => {
  const write = compileWriter(auditEventType);
  assert.ok(write, 'the contract compiles');
  const r = rng(42);
  const buf = Buffer.alloc(256 * 1024);
  for (let i = 0; i < 10_000; i++) {
    const e = randomEvent(r);
    // avsc needs explicit nulls where a union has no default-on-undefined; the record writer
    // fills absent fields with defaults, so compare on the undefined-stripped object.
    const input = stripUndefined(e);
    const expected = auditEventType.toBuffer(input);
    const end = write(input, buf, 3);
    assert.ok(end > 0);
    assert.ok(buf.subarray(3, end).equals(expected), `event ${i} differs:\n${JSON.stringify(input)}`);
  }
});

test('the compiled writer returns -1 when the buffer is too small, at any size, and never writes past it', () => {
  const write = compileWriter(auditEventType);
  assert.ok(write);
  const r = rng(7);
  for (let i = 0; i < 300; i++) {
    const e = stripUndefined(randomEvent(r));
    const expected = auditEventType.toBuffer(e);
    for (const size of [0, 1, 5, expected.length - 1, Math.floor(expected.length / 2)]) {
      if (size < 0) continue;
      const backing = Buffer.alloc(size + 8, 0xee);
      const view = backing.subarray(0, size);
      const end = write(e, view, 0);
      if (end >= 0) assert.ok(view.subarray(0, end).equals(expected));
      else
        assert.ok(
          backing.subarray(size).every((b) => b === 0xee),
          'nothing written past the end',
        );
    }
  }
});

test('the compiled writer rejects what avsc rejects (and accepts what it accepts)', () => {
  const write = compileWriter(auditEventType);
  assert.ok(write);
  const good = stripUndefined(randomEvent(rng(3)));
  const actor = good.actor as Record<string, unknown>;
  const bad: Array<[string, unknown]> = [
    ['not an object', 'x'],
    ['null', null],
    ['missing event_id', { ...good, event_id: undefined }],
    ['number as string', { ...good, tenant_id: 7 }],
    ['float long', { ...good, occurred_at: 1.5 }],
    ['unsafe long', { ...good, occurred_at: 2 ** 60 }],
    ['string long', { ...good, occurred_at: '1' }],
    ['bad enum', { ...good, category: 'nope' }],
    ['actor not a record', { ...good, actor: null }],
    ['optional as number', { ...good, actor: { ...actor, name: 5 } }],
    ['nested optional as number', { ...good, resource: { type: 'a', id: 'b', name: 5 } }],
    ['map as array', { ...good, attributes: ['a'] }],
    ['map value not a string', { ...good, attributes: { a: 1 } }],
  ];
  const buf = Buffer.alloc(64 * 1024);
  for (const [label, v] of bad) {
    assert.equal(auditEventType.isValid(v), false, `avsc rejects: ${label}`);
    assert.throws(
      () => write(v, buf, 0),
      (e: unknown) => e === INVALID_VALUE || e instanceof TypeError,
      label,
    );
  }
  assert.ok(write(good, buf, 0) > 0);
  // Maps: own keys only, in Object.keys order (integer-like keys first), like avsc.
  const attrs = Object.assign(Object.create({ inherited: 'x' }) as Record<string, string>, { b: '1', 10: 'ten', a: '2', 2: 'two' });
  const withMap = { ...good, attributes: attrs };
  const end = write(withMap, buf, 0);
  assert.ok(buf.subarray(0, end).equals(auditEventType.toBuffer(withMap)));
  // Stricter than avsc, which takes an inherited property name for an enum symbol.
  assert.throws(
    () => write({ ...good, outcome: 'toString' }, buf, 0),
    (e: unknown) => e === INVALID_VALUE,
  );
});

test('other schemas: int, boolean, float, double, arrays, [T, "null"] unions, nested and repeated records match avsc; unsupported ones fall back', () => {
  const schema = {
    type: 'record',
    name: 'T',
    fields: [
      { name: 'i', type: 'int' },
      { name: 'b', type: 'boolean' },
      { name: 'f', type: 'float' },
      { name: 'd', type: 'double' },
      { name: 'a', type: { type: 'array', items: 'long' } },
      { name: 'u', type: ['string', 'null'] },
      { name: 'n', type: 'null' },
      { name: 'p', type: { type: 'record', name: 'P', fields: [{ name: 'x', type: 'int', default: 3 }] } },
      { name: 'q', type: 'P' },
      { name: 'm', type: { type: 'map', values: { type: 'array', items: 'string' } } },
      { name: 'e', type: { type: 'enum', name: 'E', symbols: ['A', 'B'] }, default: 'B' },
    ],
  } as unknown as AvroSchema;
  const type = typeForSchema(schema);
  const write = compileWriter(type);
  assert.ok(write);
  const values = [
    { i: -5, b: true, f: 1.5, d: -0.1, a: [1, -2, 2 ** 40], u: 'x', n: null, p: { x: 1 }, q: {}, m: { k: ['a', 'ü'] } },
    { i: 2 ** 31 - 1, b: false, f: 0, d: 1e300, a: [], u: null, n: null, p: { x: -(2 ** 31) }, q: { x: 0 }, m: {}, e: 'A' },
  ];
  const buf = Buffer.alloc(1024);
  for (const v of values) {
    const end = write(v, buf, 0);
    assert.ok(buf.subarray(0, end).equals(type.toBuffer(v)), JSON.stringify(v));
  }
  assert.throws(() => write({ ...values[0], i: 2 ** 31 }, buf, 0));
  assert.throws(() => write({ ...values[0], b: 1 }, buf, 0));

  for (const unsupported of [
    { type: 'record', name: 'U', fields: [{ name: 'x', type: ['null', 'string', 'int'] }] },
    { type: 'record', name: 'U', fields: [{ name: 'x', type: 'bytes' }] },
    { type: 'record', name: 'U', fields: [{ name: 'x', type: { type: 'fixed', name: 'F', size: 2 } }] },
  ]) {
    assert.equal(compileWriter(typeForSchema(unsupported as unknown as AvroSchema)), undefined);
  }
  // And the codec still encodes (through avsc) with such a schema: the contract plus a bytes field.
  const withBytes = structuredClone(auditEventSchema) as unknown as { fields: unknown[] };
  withBytes.fields.push({ name: 'blob', type: ['null', 'bytes'], default: null });
  assert.equal(compileWriter(typeForSchema(withBytes as unknown as AvroSchema)), undefined);
  const codec = createCodec({ schema: withBytes as unknown as AvroSchema });
  const event = { ...stripUndefined(randomEvent(rng(5))), blob: Buffer.from([1, 2, 3]) };
  const bytes = codec.encodeSync(event as never);
  assert.deepEqual([...(codec.decodeSync(bytes) as unknown as { blob: Buffer }).blob], [1, 2, 3]);
});

test('a lone surrogate is written as U+FFFD (valid UTF-8) at any string length', () => {
  const codec = createCodec();
  const e = stripUndefined(randomEvent(rng(11)));
  for (const id of ['\ud800x', `${'a'.repeat(70)}\udc00`]) {
    const decoded = codec.decodeSync(codec.encodeSync({ ...e, actor: { id, type: 'user' } } as never));
    assert.equal(decoded.actor.id, id.replace(/[\ud800-\udfff]/, '\ufffd'));
  }
});

test('encodeSync returns non-overlapping views of a slab, and moves to a new slab (growing for large events) when full', () => {
  const codec = createCodec();
  const e = stripUndefined(randomEvent(rng(9))) as never;
  const outs: Buffer[] = [];
  for (let i = 0; i < 2000; i++) outs.push(codec.encodeSync(e));
  const big = codec.encodeSync({ ...(e as object), attributes: { blob: 'y'.repeat(300_000) } } as never);
  outs.push(codec.encodeSync(e));
  for (let i = 1; i < outs.length; i++) {
    const a = outs[i - 1] as Buffer;
    const b = outs[i] as Buffer;
    if (a.buffer === b.buffer) assert.ok(a.byteOffset + a.length <= b.byteOffset, 'views do not overlap');
  }
  assert.ok(new Set(outs.map((o) => o.buffer)).size > 1, 'more than one slab');
  for (const o of outs) assert.equal(codec.decodeSync(o).event_id, (e as { event_id: string }).event_id);
  assert.equal(codec.decodeSync(big).attributes.blob?.length, 300_000);
});
