import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { GENERATED_TYPES_FILE, renderTypes } from './generate-types.js';
import { AUDIT_EVENT_SCHEMA_FILE, auditEventSchema, auditEventType, schemaHistory } from './schema.js';
import { ACTOR_TYPE_SYMBOLS, type AuditEvent, CATEGORY_SYMBOLS, OUTCOME_SYMBOLS, SEVERITY_SYMBOLS } from './types.generated.js';

type Node = Record<string, unknown>;

function walkFields(schema: unknown, path: string, visit: (field: Node, path: string) => void): void {
  if (Array.isArray(schema)) {
    for (const b of schema) walkFields(b, path, visit);
    return;
  }
  if (!schema || typeof schema !== 'object') return;
  const o = schema as Node;
  if (Array.isArray(o.fields)) {
    for (const f of o.fields as Node[]) {
      const p = path ? `${path}.${String(f.name)}` : String(f.name);
      visit(f, p);
      walkFields(f.type, p, visit);
    }
  } else if (typeof o.type === 'object') walkFields(o.type, path, visit);
}

test('types.generated.ts is up to date with audit_event.avsc', () => {
  assert.equal(
    readFileSync(GENERATED_TYPES_FILE, 'utf8'),
    renderTypes(auditEventSchema),
    'run: node --import tsx shared/schemas/src/generate-types.ts --write',
  );
});

test('the contract is record io.auditstream.AuditEvent with the who/what/when/where fields', () => {
  const s = auditEventSchema as Node;
  assert.equal(s.type, 'record');
  assert.equal(s.name, 'AuditEvent');
  assert.equal(s.namespace, 'io.auditstream');
  const names: string[] = [];
  walkFields(s, '', (_f, p) => names.push(p));
  for (const required of [
    'event_id',
    'tenant_id',
    'occurred_at',
    'actor.id',
    'actor.type',
    'actor.name',
    'actor.session_id',
    'actor.ip',
    'actor.user_agent',
    'action',
    'category',
    'outcome',
    'reason',
    'service',
    'host',
    'region',
    'resource',
    'resource.type',
    'resource.id',
    'resource.name',
    'request_id',
    'trace_id',
    'severity',
    'attributes',
  ]) {
    assert.ok(names.includes(required), `field ${required} is missing`);
  }
  const occurred = (s.fields as Node[]).find((f) => f.name === 'occurred_at');
  assert.deepEqual(occurred?.type, { type: 'long', logicalType: 'timestamp-micros' });
});

test('every field has a doc, and optional fields are ["null", T] with default null', () => {
  walkFields(auditEventSchema, '', (f, p) => {
    assert.ok(typeof f.doc === 'string' && f.doc.length > 10, `${p} has no doc`);
    if (Array.isArray(f.type)) {
      assert.equal(f.type[0], 'null', `${p}: optional fields list "null" first`);
      assert.equal(f.type.length, 2, `${p}: optional fields are ["null", T]`);
      assert.equal(f.default, null, `${p}: optional fields default to null`);
    }
  });
});

test('enum symbols in TS match the schema', () => {
  const enums = new Map<string, string[]>();
  walkFields(auditEventSchema, '', (f) => {
    const t = f.type as Node;
    if (t && typeof t === 'object' && t.type === 'enum') enums.set(String(t.name), t.symbols as string[]);
  });
  assert.deepEqual(enums.get('ActorType'), [...ACTOR_TYPE_SYMBOLS]);
  assert.deepEqual(enums.get('Category'), [...CATEGORY_SYMBOLS]);
  assert.deepEqual(enums.get('Outcome'), [...OUTCOME_SYMBOLS]);
  assert.deepEqual(enums.get('Severity'), [...SEVERITY_SYMBOLS]);
});

test('a full AuditEvent value round-trips through avsc with microseconds intact', () => {
  const ev: AuditEvent = {
    event_id: '01890f5c-3b2a-7cde-8f01-23456789abcd',
    tenant_id: 'acme',
    occurred_at: 1_714_564_800_123_457,
    actor: { id: 'u-1', type: 'user', name: 'Ada', session_id: 's-1', ip: '203.0.113.7', user_agent: 'curl/8' },
    action: 'user.role.grant',
    category: 'authorization',
    outcome: 'success',
    reason: null,
    service: 'iam',
    host: 'iam-0',
    region: 'eu-west-1',
    resource: { type: 'user', id: 'u-2', name: null },
    request_id: 'r-1',
    trace_id: null,
    severity: 'high',
    attributes: { role: 'admin' },
    producer_id: '01890f5c-3b2a-7cde-8f01-000000000000',
    producer_seq: 2 ** 53 - 2,
  };
  assert.ok(auditEventType.isValid(ev));
  const back = auditEventType.fromBuffer(auditEventType.toBuffer(ev));
  assert.deepEqual(JSON.parse(JSON.stringify(back)), ev);
  assert.equal(back.occurred_at, 1_714_564_800_123_457);
});

test('history holds v1 and the newest release parses', () => {
  assert.ok(schemaHistory.length >= 1);
  assert.equal(schemaHistory[0]?.version, 1);
  const newest = schemaHistory[schemaHistory.length - 1];
  assert.ok(newest);
  // v1 is the current contract until a field is added.
  if (newest.version === 1) assert.deepEqual(newest.schema, JSON.parse(readFileSync(AUDIT_EVENT_SCHEMA_FILE, 'utf8')));
});
