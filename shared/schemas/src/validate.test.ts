import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { test } from 'node:test';
import { UUID_V7_RE, uuidv7 } from '@auditstream/core';
import { isIpAddress, isUuidV7, MAX_ACTION_LENGTH } from './rules.js';
import { AuditEventValidationError, createEventNormalizer, EVENT_TIME_WINDOW, validateAuditEvent } from './validate.js';

test('the char-loop UUIDv7 check agrees with UUID_V7_RE', () => {
  const samples = [
    ...Array.from({ length: 200 }, () => uuidv7()),
    '01890f5c-3b2a-7cde-8f01-23456789abcd',
    '01890F5C-3B2A-7CDE-8F01-23456789ABCD',
    '01890f5c-3b2a-4cde-8f01-23456789abcd',
    '01890f5c-3b2a-7cde-cf01-23456789abcd',
    '01890f5c3b2a-7cde-8f01-23456789abcd0',
    '01890f5c-3b2a-7cde-8f01-23456789abc',
    '01890f5c-3b2a-7cde-8f01-23456789abcg',
    '',
  ];
  for (const s of samples) assert.equal(isUuidV7(s), UUID_V7_RE.test(s), s);
});

test('the IPv4 fast path agrees with net.isIP', () => {
  const samples = [
    '10.0.0.1',
    '255.255.255.255',
    '256.1.1.1',
    '1.2.3',
    '1.2.3.4.5',
    '01.2.3.4',
    '0.0.0.0',
    '1..2.3',
    '',
    'a.b.c.d',
    '1.2.3.4 ',
    '::1',
    'fe80::1%eth0',
    '2001:db8::1',
    '::ffff:1.2.3.4',
    ':::',
  ];
  for (const s of samples) assert.equal(isIpAddress(s), isIP(s) !== 0, s);
});

test('normalize fills SDK-owned fields, defaults and never mutates the input', () => {
  const normalize = createEventNormalizer();
  const input = Object.freeze({
    tenant_id: 't',
    actor: Object.freeze({ id: 'u', type: 'user' as const }),
    action: 'auth.login',
    category: 'authentication' as const,
    outcome: 'success' as const,
    service: 's',
  });
  const now = Date.now();
  const e = normalize(input, now);
  assert.match(e.event_id, UUID_V7_RE);
  assert.equal(e.occurred_at, now * 1000);
  assert.equal(e.severity, 'info');
  assert.deepEqual(e.attributes, {});
  assert.deepEqual(e.actor, { id: 'u', type: 'user' });
  assert.equal(e.resource, null);
  // an explicit undefined is not an unknown field
  assert.doesNotThrow(() => normalize({ ...input, reason: undefined, resource: undefined }, now));
});

const AT = 1_700_000_000_000; // a Kafka timestamp, ms
const BASE = {
  tenant_id: 't',
  actor: { id: 'u', type: 'user' as const, ip: '203.0.113.9' },
  action: 'auth.login',
  category: 'authentication' as const,
  outcome: 'failure' as const,
  service: 's',
};
/** A decoded event as ingest sees it: every field present. */
const decoded = (over: Record<string, unknown> = {}) => ({ ...createEventNormalizer()(BASE, AT), ...over });

function fieldOf(fn: () => void): string | undefined {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof AuditEventValidationError, String(err));
    assert.equal(err.code, 'EVENT_INVALID');
    return err.field;
  }
  return undefined;
}

test('validateAuditEvent: a decoded event breaking a rule names the field; the window is judged against the given time', () => {
  const at = AT;
  const check = (over: Record<string, unknown>) => fieldOf(() => validateAuditEvent(decoded(over) as never, at));
  assert.equal(check({}), undefined);
  assert.equal(check({ event_id: '01890f5c-3b2a-4cde-8f01-23456789abcd' }), 'event_id', 'UUIDv4');
  assert.equal(check({ action: 'Login' }), 'action');
  assert.equal(check({ action: `a.${'b'.repeat(MAX_ACTION_LENGTH)}` }), 'action', 'too long');
  assert.equal(check({ actor: { ...decoded().actor, ip: '999.1.1.1' } }), 'actor.ip');
  assert.equal(check({ actor: { ...decoded().actor, id: '' } }), 'actor.id');
  assert.equal(check({ tenant_id: '' }), 'tenant_id');
  assert.equal(check({ service: '' }), 'service');
  assert.equal(check({ resource: { type: 'doc', id: '', name: null } }), 'resource.id');
  assert.equal(check({ occurred_at: (at + EVENT_TIME_WINDOW.max_future_skew_ms + 1) * 1000 }), 'occurred_at', 'future');
  assert.equal(check({ occurred_at: (at + EVENT_TIME_WINDOW.max_future_skew_ms) * 1000 }), undefined, 'edge of the future');
  assert.equal(check({ occurred_at: (at - EVENT_TIME_WINDOW.max_past_age_ms - 1) * 1000 }), 'occurred_at', 'past');
  assert.equal(check({ occurred_at: (at - EVENT_TIME_WINDOW.max_past_age_ms) * 1000 }), undefined, 'edge of the past');
  // The same event judged at another Kafka timestamp: the verdict follows that time, not the wall clock.
  assert.equal(
    fieldOf(() => validateAuditEvent(decoded() as never, at + EVENT_TIME_WINDOW.max_past_age_ms + 1)),
    'occurred_at',
  );
});

test('optional strings: null stays null, a value is kept, "" is rejected naming the field (absent is null)', () => {
  const normalize = createEventNormalizer();
  const now = Date.now();
  const base = {
    tenant_id: 't',
    actor: { id: 'u', type: 'user' as const },
    action: 'auth.login',
    category: 'authentication' as const,
    outcome: 'success' as const,
    service: 's',
  };
  for (const f of ['reason', 'host', 'region', 'request_id', 'trace_id']) {
    assert.equal(
      fieldOf(() => normalize({ ...base, [f]: '' }, now)),
      f,
    );
    assert.equal((normalize({ ...base, [f]: null }, now) as unknown as Record<string, unknown>)[f], null);
    assert.equal((normalize({ ...base, [f]: 'x' }, now) as unknown as Record<string, unknown>)[f], 'x');
  }
  for (const f of ['name', 'session_id', 'ip', 'user_agent']) {
    assert.equal(
      fieldOf(() => normalize({ ...base, actor: { ...base.actor, [f]: '' } }, now)),
      `actor.${f}`,
    );
  }
  assert.equal(
    fieldOf(() => normalize({ ...base, resource: { type: 'doc', id: 'd', name: '' } }, now)),
    'resource.name',
  );
  // Attribute values are map<string>: "" is a value there and is kept.
  assert.deepEqual(normalize({ ...base, attributes: { empty: '' } }, now).attributes, { empty: '' });
  assert.throws(() => normalize({ ...base, reason: '' }, now), /^AuditEventValidationError: reason must not be an empty string/);
});

test('producer_id and producer_seq: both or neither; a lowercase UUID and a safe non-negative integer', () => {
  const pid = '01890f5c-3b2a-4cde-8f01-23456789abcd'; // any UUID version: other languages mint their own
  const n = createEventNormalizer();
  const out = n({ ...BASE, producer_id: pid, producer_seq: 0 }, AT);
  assert.equal(out.producer_id, pid);
  assert.equal(out.producer_seq, 0);
  const none = n(BASE, AT);
  assert.equal(none.producer_id, null);
  assert.equal(none.producer_seq, null);
  assert.doesNotThrow(() => validateAuditEvent(decoded({ producer_id: pid, producer_seq: 2 ** 53 - 2 }), AT));
  assert.doesNotThrow(() => validateAuditEvent(decoded({ producer_id: null, producer_seq: null }), AT));
  assert.equal(
    fieldOf(() => validateAuditEvent(decoded({ producer_id: pid, producer_seq: null }), AT)),
    'producer_seq',
  );
  assert.equal(
    fieldOf(() => validateAuditEvent(decoded({ producer_id: null, producer_seq: 3 }), AT)),
    'producer_id',
  );
  assert.equal(
    fieldOf(() => validateAuditEvent(decoded({ producer_id: pid.toUpperCase(), producer_seq: 3 }), AT)),
    'producer_id',
  );
  assert.equal(
    fieldOf(() => validateAuditEvent(decoded({ producer_id: 'p-1', producer_seq: 3 }), AT)),
    'producer_id',
  );
  assert.equal(
    fieldOf(() => validateAuditEvent(decoded({ producer_id: pid, producer_seq: -1 }), AT)),
    'producer_seq',
  );
  assert.equal(
    fieldOf(() => validateAuditEvent(decoded({ producer_id: pid, producer_seq: 1.5 }), AT)),
    'producer_seq',
  );
  assert.equal(
    fieldOf(() => validateAuditEvent(decoded({ producer_id: pid, producer_seq: 2 ** 53 - 1 }), AT)),
    'producer_seq',
  );
});
