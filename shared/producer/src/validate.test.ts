import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { test } from 'node:test';
import { UUID_V7_RE, uuidv7 } from '@auditstream/core';
import { createEventNormalizer, isIpAddress, isUuidV7 } from './validate.js';

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
