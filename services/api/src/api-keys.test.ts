import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AuditstreamError } from '@auditstream/core';
import { checkKeySpec, generateApiKey, hashSecret, parseApiKey, secretMatches } from './api-keys.js';

test('generated keys parse back; only the hash of the secret is kept', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 50; i++) {
    const k = generateApiKey();
    assert.match(k.key, /^ask_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(parseApiKey(k.key), { id: k.id, secret: k.secret });
    assert.equal(k.hash, hashSecret(k.secret));
    assert.match(k.hash, /^[0-9a-f]{64}$/);
    assert.ok(!k.hash.includes(k.secret));
    assert.equal(secretMatches(k.secret, k.hash), true);
    seen.add(k.id);
  }
  assert.equal(seen.size, 50);
});

test('wrong secrets, malformed keys and malformed stored hashes never match', () => {
  const k = generateApiKey();
  const other = generateApiKey();
  assert.equal(secretMatches(other.secret, k.hash), false);
  assert.equal(secretMatches(k.secret, ''), false);
  assert.equal(secretMatches(k.secret, 'zz'.repeat(32)), false);
  assert.equal(secretMatches(k.secret, k.hash.toUpperCase()), false);
  for (const bad of [
    '',
    'ask_',
    `${k.key}x`,
    k.key.slice(0, -1),
    k.key.replace('ask_', 'ASK_'),
    `Bearer ${k.key}`,
    'ask_0123_abc',
    `ask_${'g'.repeat(16)}_${k.secret}`,
  ])
    assert.equal(parseApiKey(bad), undefined, bad);
});

test('key specs: admins are every tenant, auditors need tenants, roles are checked', () => {
  assert.deepEqual(checkKeySpec('admin', []), { role: 'admin', tenants: ['*'] });
  assert.deepEqual(checkKeySpec('auditor', ['acme', 'acme', 'beta']), { role: 'auditor', tenants: ['acme', 'beta'] });
  assert.deepEqual(checkKeySpec('auditor', ['*']), { role: 'auditor', tenants: ['*'] });
  assert.deepEqual(checkKeySpec('service', []), { role: 'service', tenants: [] });
  const usage = (field: string) => (err: unknown) => err instanceof AuditstreamError && err.code === 'USAGE' && err.field === field;
  assert.throws(() => checkKeySpec('root', []), usage('role'));
  assert.throws(() => checkKeySpec('admin', ['acme']), usage('tenant'));
  assert.throws(() => checkKeySpec('auditor', []), usage('tenant'));
  assert.throws(() => checkKeySpec('auditor', ['*', 'acme']), usage('tenant'));
  assert.throws(() => checkKeySpec('auditor', ['a\nb']), usage('tenant'));
  assert.throws(() => checkKeySpec('auditor', ['']), usage('tenant'));
});
