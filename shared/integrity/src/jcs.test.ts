import assert from 'node:assert/strict';
import { test } from 'node:test';
import canonicalize from 'canonicalize';
import { canonicalJson, type JcsValue } from './jcs.js';

// Our RFC 8785 writer against the `canonicalize` package, on the values the chain hashes.
const samples: JcsValue[] = [
  {},
  { b: '2', a: '1', c: '' },
  { http_method: 'POST', mfa: 'true', path: '/v1/items/7', Zeta: 'upper before lower', é: 'non-ASCII key' },
  { '\u20ac': 'euro', '\r': 'control key', '\ud83d\ude00': 'astral key', '1': 'digit key', quote: '"\\\n\t\u0001' },
  { nested: { z: 1, a: [true, false, null, -5, 0, 9007199254740991] }, list: ['b', 'a'] },
  'plain',
  42,
  null,
];

test('canonicalJson equals the canonicalize package on every value the chain uses', () => {
  for (const v of samples) assert.equal(canonicalJson(v), canonicalize(v), JSON.stringify(v));
});

test('canonicalJson keeps what canonicalize rejects or allows differently: lone surrogates escaped, floats refused', () => {
  assert.equal(canonicalJson({ a: '\ud800' }), '{"a":"\\ud800"}');
  assert.throws(() => canonicalize({ a: '\ud800' }), /surrogate/i);
  assert.throws(() => canonicalJson({ a: 1.5 }), /safe integers/);
});
