import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createViewerTokenCodec } from './viewer-tokens.js';

const SECRET = 'viewer-token-test-secret-0123456789abcdef';

test('a minted token verifies to a read-only principal of its tenant with its fixed filters', () => {
  const codec = createViewerTokenCodec(SECRET, () => 1_700_000_000_000);
  const { token, claims } = codec.mint({ tenant: 'acme', filters: { actor_id: 'alice' }, ttlS: 60, by: 'k1' });
  assert.equal(claims.exp - claims.iat, 60);
  assert.deepEqual(codec.verify(token), {
    kind: 'viewer_token',
    id: claims.id,
    role: 'auditor',
    tenants: ['acme'],
    fixed: { actor_id: 'alice' },
    minted_by: 'k1',
  });
});

test('expired at exp, refused from another key, altered anywhere, or re-spelled', () => {
  let now = 1_700_000_000_000;
  const codec = createViewerTokenCodec(SECRET, () => now);
  const { token } = codec.mint({ tenant: 'acme', filters: {}, ttlS: 60, by: 'k1' });
  now += 59_999;
  assert.ok(codec.verify(token));
  now += 1;
  assert.equal(codec.verify(token), undefined);
  now -= 1000;
  assert.equal(createViewerTokenCodec(`${SECRET}x`, () => now).verify(token), undefined);
  for (let i = 4; i < token.length; i++) {
    const c = token[i] === 'A' ? 'B' : 'A';
    assert.equal(codec.verify(token.slice(0, i) + c + token.slice(i + 1)), undefined, `character ${i} changed`);
  }
  assert.equal(codec.verify(`${token}.x`), undefined);
  assert.equal(codec.verify(token.replace('avt_', 'ask_')), undefined);
});

test('claims that are signed but not well-formed are refused (unknown filter keys)', () => {
  const codec = createViewerTokenCodec(SECRET, () => 1_700_000_000_000);
  const { token } = codec.mint({ tenant: 'acme', filters: { tenant_id: 'beta' } as never, ttlS: 60, by: 'k1' });
  assert.equal(codec.verify(token), undefined);
});
