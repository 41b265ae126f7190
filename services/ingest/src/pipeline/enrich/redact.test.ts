import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AuditEvent } from '@auditstream/schemas';
import { createRedactor, luhnValid, type RedactConfig } from './redact.js';

const cfg: RedactConfig = {
  emails: true,
  bearer_tokens: true,
  card_numbers: true,
  patterns: [{ name: 'ssn', regex: '\\b\\d{3}-\\d{2}-\\d{4}\\b' }],
  fields: ['reason', 'attributes', 'actor.name', 'resource.name'],
  drop_attribute_keys: ['Internal_Debug'],
  mask_attribute_keys: ['password', 'api_key'],
};

function ev(over: Partial<AuditEvent>): AuditEvent {
  return {
    event_id: 'e',
    tenant_id: 't',
    occurred_at: 0,
    actor: { id: 'u', type: 'user', name: null, session_id: null, ip: null, user_agent: null },
    action: 'a.b',
    category: 'system',
    outcome: 'success',
    reason: null,
    service: 's',
    host: null,
    region: null,
    resource: null,
    request_id: null,
    trace_id: null,
    severity: 'info',
    attributes: {},
    producer_id: null,
    producer_seq: null,
    ...over,
  };
}

test('luhn', () => {
  assert.equal(luhnValid('4111 1111 1111 1111'), true);
  assert.equal(luhnValid('4111-1111-1111-1112'), false);
  assert.equal(luhnValid('5500005555555559'), true);
  assert.equal(luhnValid('1234'), false);
});

test('emails, bearer tokens, JWTs, Luhn-valid cards and custom patterns are replaced; counts per rule', () => {
  const r = createRedactor(cfg);
  const e = ev({
    reason: 'sent to alice.smith+x@mail.example.co.uk by Bearer abcDEF123._~+/= ok',
    actor: { id: 'u', type: 'user', name: 'Bob <bob@example.com>', session_id: null, ip: null, user_agent: null },
    resource: { type: 'doc', id: 'd', name: 'SSN 123-45-6789' },
    attributes: {
      card: 'paid with 4111 1111 1111 1111',
      not_card: 'order 4111111111111112 and phone 0123456789',
      jwt: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig_-1',
      plain: 'nothing here',
    },
  });
  const counts = r(e);
  assert.equal(e.reason, 'sent to [redacted:email] by Bearer [redacted:bearer] ok');
  assert.equal(e.actor.name, 'Bob <[redacted:email]>');
  assert.equal(e.resource?.name, 'SSN [redacted:ssn]');
  assert.equal(e.attributes.card, 'paid with [redacted:card]');
  assert.equal(e.attributes.not_card, 'order 4111111111111112 and phone 0123456789');
  assert.equal(e.attributes.jwt, '[redacted:bearer]');
  assert.equal(e.attributes.plain, 'nothing here');
  assert.deepEqual(Object.fromEntries(counts), { email: 2, bearer: 2, ssn: 1, card: 1 });
});

test('attribute keys are dropped or masked, case-insensitively', () => {
  const r = createRedactor(cfg);
  const e = ev({ attributes: { internal_debug: 'x', PASSWORD: 'hunter2', Api_Key: 'k', keep: 'v' } });
  const counts = r(e);
  assert.deepEqual(e.attributes, { PASSWORD: '[redacted]', Api_Key: '[redacted]', keep: 'v' });
  assert.deepEqual(Object.fromEntries(counts), { drop: 1, mask: 2 });
});

test("one call's counts are its own: a later call neither adds to them nor shares them", () => {
  const r = createRedactor(cfg);
  const first = r(ev({ reason: 'mail a@example.com' }));
  const clean = r(ev({ reason: 'nothing to see', attributes: { keep: 'v' } }));
  const second = r(ev({ reason: 'mail b@example.com and c@example.com', attributes: { PASSWORD: 'x' } }));
  assert.deepEqual(Object.fromEntries(first), { email: 1 });
  assert.equal(clean.size, 0, 'nothing redacted: no counts');
  assert.deepEqual(Object.fromEntries(second), { email: 1, mask: 1 });
  assert.deepEqual(Object.fromEntries(first), { email: 1 }, 'the first result is unchanged by the later calls');
});

test('only the configured fields are scrubbed', () => {
  const r = createRedactor({ ...cfg, fields: ['reason'] });
  const e = ev({ reason: 'a@b.io', attributes: { x: 'c@d.io' } });
  r(e);
  assert.equal(e.reason, '[redacted:email]');
  assert.equal(e.attributes.x, 'c@d.io');
});

test('patterns run in linear time on adversarial input (no ReDoS)', () => {
  const r = createRedactor(cfg);
  const long = `${'a'.repeat(200_000)}@${'b'.repeat(200_000)}`;
  const digits = '1 '.repeat(100_000);
  const started = performance.now();
  r(ev({ reason: long, attributes: { d: digits } }));
  assert.ok(performance.now() - started < 2000, 'redaction of 600 kB adversarial text is fast');
});
