import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createCursorCodec, queryDigest } from './cursor.js';
import { ProblemError } from './problem.js';

const isCursor400 = (err: unknown) => err instanceof ProblemError && err.status === 400 && err.errors?.[0]?.parameter === 'cursor';
const pos = { t: 1_714_564_800_123_456n, id: '01900000-0000-7000-8000-000000000001' };

test('a cursor round-trips its position for the same query', () => {
  const codec = createCodec();
  const d = queryDigest({ from: 'a', to: 'b', scope: 'acme' });
  const c = codec.encode('events', 'desc', d, pos);
  assert.match(c, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  assert.deepEqual(codec.decode(c, 'events', 'desc', d), pos);
});

function createCodec() {
  return createCursorCodec('k'.repeat(32));
}

test('tampered, truncated, foreign and replayed cursors are refused with 400', () => {
  const codec = createCodec();
  const d = queryDigest({ from: 'a', to: 'b', scope: 'acme' });
  const c = codec.encode('events', 'desc', d, pos);
  const [body, sig] = c.split('.') as [string, string];
  // Re-sign nothing: change the position inside the payload and keep the old MAC.
  const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body, 'base64url').toString()), t: '1' })).toString('base64url');
  const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
  const bad = [
    `${forged}.${sig}`,
    `${flip(body, 3)}.${sig}`,
    `${body}.${flip(sig, 0)}`,
    `${body}.${sig.slice(0, -2)}`,
    body,
    `${body}.${sig}.x`,
    `.${sig}`,
    '',
    'not a cursor',
    `${body}.${sig}`.repeat(20),
    "'; DROP TABLE events; --",
  ];
  for (const b of bad) assert.throws(() => codec.decode(b, 'events', 'desc', d), isCursor400, b.slice(0, 40));
  // Another key (another deployment, or a restart without cursor_secret).
  assert.throws(() => createCursorCodec('x'.repeat(32)).decode(c, 'events', 'desc', d), isCursor400);
  // The same cursor with other filters, another order, or another listing.
  assert.throws(() => codec.decode(c, 'events', 'desc', queryDigest({ from: 'a', to: 'b', scope: 'beta' })), isCursor400);
  assert.throws(() => codec.decode(c, 'events', 'asc', d), isCursor400);
  assert.throws(() => codec.decode(c, 'alerts', 'desc', d), isCursor400);
});

test('the query digest ignores key order and distinguishes values', () => {
  assert.equal(queryDigest({ a: 1, b: 'x' }), queryDigest({ b: 'x', a: 1 }));
  assert.notEqual(queryDigest({ a: 1 }), queryDigest({ a: 2 }));
  assert.notEqual(queryDigest({ a: 'x' }), queryDigest({ b: 'x' }));
  assert.equal(queryDigest({ a: undefined }), queryDigest({ a: null }));
});

test('a random per-process key still round-trips', () => {
  const codec = createCursorCodec();
  const c = codec.encode('alerts', 'desc', 'd', pos);
  assert.deepEqual(codec.decode(c, 'alerts', 'desc', 'd'), pos);
});
