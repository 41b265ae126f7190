import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkCompatibility } from './compat.js';
import { type AvroSchema, auditEventSchema, auditEventType, readSchemaFile, schemaHistory, typeForSchema } from './schema.js';
import type { AuditEvent } from './types.generated.js';

type Node = Record<string, unknown>;
/** An event of the v1 contract (before producer_id and producer_seq). */
type V1Event = Omit<AuditEvent, 'producer_id' | 'producer_seq'>;
const V2_FILE = new URL('./testdata/audit_event.v2.avsc', import.meta.url).pathname;

function mutate(fn: (s: Node) => void): AvroSchema {
  const copy = structuredClone(auditEventSchema) as Node;
  fn(copy);
  return copy as AvroSchema;
}
function field(s: Node, name: string): Node {
  const f = (s.fields as Node[]).find((x) => x.name === name);
  assert.ok(f, name);
  return f;
}
function actorFields(s: Node): Node[] {
  return (field(s, 'actor').type as Node).fields as Node[];
}

test('audit_event.avsc is a compatible evolution of the newest released schema in history/', () => {
  const newest = schemaHistory[schemaHistory.length - 1];
  assert.ok(newest, 'history/ holds at least one released schema');
  const issues = checkCompatibility(newest.schema, auditEventSchema);
  assert.deepEqual(
    issues,
    [],
    `audit_event.avsc breaks the evolution rules against ${newest.file}:\n${issues.map((i) => `  ${i.path}: ${i.message}`).join('\n')}`,
  );
});

test('the rules accept additions with defaults', () => {
  assert.deepEqual(checkCompatibility(auditEventSchema, auditEventSchema), []);
  assert.deepEqual(checkCompatibility(auditEventSchema, readSchemaFile(V2_FILE)), []);
});

test('the rules reject removals, renames, type changes and additions without default', () => {
  const cases: Array<[string, AvroSchema, RegExp, string]> = [
    [
      'remove',
      mutate((s) => {
        s.fields = (s.fields as Node[]).filter((f) => f.name !== 'region');
      }),
      /removed/,
      'AuditEvent.region',
    ],
    [
      'rename',
      mutate((s) => {
        Object.assign(field(s, 'host'), { name: 'hostname', aliases: ['host'] });
      }),
      /renamed to "hostname"/,
      'AuditEvent.host',
    ],
    [
      'type',
      mutate((s) => {
        field(s, 'tenant_id').type = 'long';
      }),
      /type changed from string to long/,
      'AuditEvent.tenant_id',
    ],
    [
      'logical',
      mutate((s) => {
        field(s, 'occurred_at').type = { type: 'long', logicalType: 'timestamp-millis' };
      }),
      /logical type changed/,
      'AuditEvent.occurred_at',
    ],
    [
      'nullable',
      mutate((s) => {
        field(s, 'service').type = ['null', 'string'];
      }),
      /type changed from string to union/,
      'AuditEvent.service',
    ],
    [
      'required',
      mutate((s) => {
        field(s, 'reason').type = 'string';
      }),
      /type changed from union to string/,
      'AuditEvent.reason',
    ],
    [
      'no default',
      mutate((s) => {
        (s.fields as Node[]).push({ name: 'x', type: 'string', doc: 'x' });
      }),
      /added without a default/,
      'AuditEvent.x',
    ],
    [
      'nested no default',
      mutate((s) => {
        actorFields(s).push({ name: 'mfa', type: 'boolean', doc: 'x' });
      }),
      /added without a default/,
      'AuditEvent.actor.mfa',
    ],
    [
      'nested remove',
      mutate((s) => {
        (field(s, 'actor').type as Node).fields = actorFields(s).filter((f) => f.name !== 'ip');
      }),
      /removed/,
      'AuditEvent.actor.ip',
    ],
    [
      'enum symbol removed',
      mutate((s) => {
        const t = field(s, 'outcome').type as Node;
        t.symbols = (t.symbols as string[]).filter((x) => x !== 'denied');
      }),
      /symbol "denied" removed/,
      'AuditEvent.outcome',
    ],
    [
      'enum symbol added',
      mutate((s) => {
        const t = field(s, 'severity').type as Node;
        t.symbols = [...(t.symbols as string[]), 'emergency'];
      }),
      /no default/,
      'AuditEvent.severity',
    ],
    [
      'map values',
      mutate((s) => {
        field(s, 'attributes').type = { type: 'map', values: 'bytes' };
      }),
      /string to bytes/,
      'AuditEvent.attributes{}',
    ],
    [
      'union branch record',
      mutate((s) => {
        const r = (field(s, 'resource').type as Node[])[1] as Node;
        (r.fields as Node[])[0] = { name: 'type', type: 'int', doc: 'x' };
      }),
      /string to int/,
      'AuditEvent.resource.type',
    ],
  ];
  for (const [label, next, re, path] of cases) {
    const issues = checkCompatibility(auditEventSchema, next);
    assert.ok(
      issues.some((i) => re.test(i.message) && i.path === path),
      `${label}: expected ${re} at ${path}, got ${JSON.stringify(issues)}`,
    );
  }
});

test('avsc resolvers prove both directions with the v2 test schema', () => {
  const v1 = schemaHistory[0];
  assert.ok(v1);
  const v2 = typeForSchema(readSchemaFile(V2_FILE));
  const base: V1Event = {
    event_id: '01890f5c-3b2a-7cde-8f01-23456789abcd',
    tenant_id: 'acme',
    occurred_at: 1_714_564_800_000_001,
    actor: { id: 'u-1', type: 'user', name: null, session_id: null, ip: '198.51.100.4', user_agent: null },
    action: 'auth.login',
    category: 'authentication',
    outcome: 'failure',
    reason: 'invalid_password',
    service: 'sso',
    host: null,
    region: null,
    resource: null,
    request_id: null,
    trace_id: null,
    severity: 'info',
    attributes: { mfa: 'false' },
  };
  // Old reader, new data: v2 fields are dropped, everything else intact.
  const v2Value = { ...base, actor: { ...base.actor, mfa: true }, geo: { country: 'NL', city: null }, labels: ['a'], schema_minor: 2 };
  const v2Bytes = v2.toBuffer(v2Value);
  const oldReads = v1.type.fromBuffer(v2Bytes, v1.type.createResolver(v2));
  assert.deepEqual(JSON.parse(JSON.stringify(oldReads)), base);

  // New reader, old data: v2 fields take their defaults.
  const v1Bytes = v1.type.toBuffer(base);
  const newReads = v2.fromBuffer(v1Bytes, v2.createResolver(v1.type));
  assert.deepEqual(JSON.parse(JSON.stringify(newReads)), {
    ...base,
    actor: { ...base.actor, mfa: null },
    producer_id: null,
    producer_seq: null,
    geo: null,
    labels: [],
    schema_minor: 2,
  });

  // And the current reader reads every released version.
  for (const h of schemaHistory) {
    const r = auditEventType.createResolver(h.type);
    assert.equal(auditEventType.fromBuffer(h.type.toBuffer(base), r).occurred_at, base.occurred_at);
  }
});

test('v2 (producer_id, producer_seq): the v1 reader reads v2 data without them, the current reader reads v1 data as null', () => {
  const v1 = schemaHistory.find((h) => h.version === 1);
  const v2 = schemaHistory.find((h) => h.version === 2);
  assert.ok(v1 && v2, 'history/ holds v1 and v2');
  const base: V1Event = {
    event_id: '01890f5c-3b2a-7cde-8f01-23456789abcd',
    tenant_id: 'acme',
    occurred_at: 1_714_564_800_000_001,
    actor: { id: 'u-1', type: 'user', name: null, session_id: null, ip: null, user_agent: null },
    action: 'auth.login',
    category: 'authentication',
    outcome: 'success',
    reason: null,
    service: 'sso',
    host: null,
    region: null,
    resource: null,
    request_id: null,
    trace_id: null,
    severity: 'info',
    attributes: {},
  };
  const stamped: AuditEvent = { ...base, producer_id: '01890f5c-3b2a-7cde-8f01-000000000001', producer_seq: 41 };
  const bytes = auditEventType.toBuffer(stamped);
  const oldReads = v1.type.fromBuffer(bytes, v1.type.createResolver(auditEventType));
  assert.deepEqual(JSON.parse(JSON.stringify(oldReads)), base);
  const newReads = auditEventType.fromBuffer(v1.type.toBuffer(base), auditEventType.createResolver(v1.type));
  assert.deepEqual(JSON.parse(JSON.stringify(newReads)), { ...base, producer_id: null, producer_seq: null });
  // v2 in history/ is the current contract (the codec decodes it by fingerprint).
  assert.deepEqual(v2.schema, auditEventSchema);
});

test('an incompatible change is also refused by avsc (the rules are not laxer than Avro)', () => {
  const broken = typeForSchema(
    mutate((s) => {
      (s.fields as Node[]).push({ name: 'x', type: 'string', doc: 'x' });
    }),
  );
  assert.throws(() => broken.createResolver(auditEventType), /x/);
});
