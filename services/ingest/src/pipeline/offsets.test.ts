import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createOffsetTracker } from './offsets.js';

test('commits nothing before any message is done', () => {
  const t = createOffsetTracker();
  for (const o of ['10', '11', '12']) t.add(0, o);
  assert.deepEqual(t.committable(), []);
  assert.equal(t.pending(), 3);
});

test('the committed offset never passes a message that is not done (contiguity)', () => {
  const t = createOffsetTracker();
  for (let o = 0; o < 6; o++) t.add(3, String(o));
  t.done(3, '0');
  t.done(3, '2');
  t.done(3, '3');
  // 1 is not done: only offset 0 is safe, so the next offset to read is 1.
  assert.deepEqual(t.committable(), [{ partition: 3, offset: '1' }]);
  t.committed(3, '1');
  assert.deepEqual(t.committable(), []);
  t.done(3, '1');
  // 0..3 done, 4 pending.
  assert.deepEqual(t.committable(), [{ partition: 3, offset: '4' }]);
  t.done(3, '5');
  assert.deepEqual(t.committable(), [{ partition: 3, offset: '4' }]);
  t.done(3, '4');
  assert.deepEqual(t.committable(), [{ partition: 3, offset: '6' }]);
  assert.equal(t.pending(), 0);
});

test('partitions are independent', () => {
  const t = createOffsetTracker();
  t.add(0, '5');
  t.add(1, '7');
  t.add(1, '8');
  t.done(1, '7');
  t.done(1, '8');
  assert.deepEqual(t.committable(), [{ partition: 1, offset: '9' }]);
  t.done(0, '5');
  assert.deepEqual(t.committable(), [
    { partition: 0, offset: '6' },
    { partition: 1, offset: '9' },
  ]);
});

test('gaps between delivered offsets (compaction, control records) do not block', () => {
  const t = createOffsetTracker();
  t.add(0, '10');
  t.add(0, '14');
  t.seal(0, '16'); // batch ended on control records 15..16
  t.done(0, '14');
  assert.deepEqual(t.committable(), []);
  t.done(0, '10');
  assert.deepEqual(t.committable(), [{ partition: 0, offset: '17' }]);
});

test('offsets beyond 2^53 stay exact', () => {
  const t = createOffsetTracker();
  t.add(0, '9007199254740993');
  t.done(0, '9007199254740993');
  assert.deepEqual(t.committable(), [{ partition: 0, offset: '9007199254740994' }]);
});

test('out-of-order adds are refused; done of unknown offsets is ignored', () => {
  const t = createOffsetTracker();
  t.add(0, '5');
  assert.throws(() => t.add(0, '5'), /out of order/);
  t.done(0, '3');
  t.done(9, '1');
  assert.deepEqual(t.committable(), []);
});

test('forget drops partitions this instance no longer owns', () => {
  const t = createOffsetTracker();
  t.add(0, '1');
  t.add(1, '1');
  t.forget([0]);
  assert.deepEqual(t.partitions(), [1]);
  t.done(0, '1');
  t.forget();
  assert.deepEqual(t.partitions(), []);
});

test('a long run stays contiguous whatever order flushes complete in', () => {
  const t = createOffsetTracker();
  const n = 5000;
  for (let o = 0; o < n; o++) t.add(0, String(o));
  const order = Array.from({ length: n }, (_, i) => i);
  // Deterministic shuffle.
  let seed = 42;
  for (let i = n - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const j = seed % (i + 1);
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  const doneSet = new Set<number>();
  let committed = 0;
  for (const o of order) {
    t.done(0, String(o));
    doneSet.add(o);
    const c = t.committable()[0];
    let expect = committed;
    while (doneSet.has(expect)) expect++;
    if (expect === committed) assert.equal(c, undefined);
    else {
      assert.equal(c?.offset, String(expect));
      t.committed(0, String(expect));
      committed = expect;
    }
  }
  assert.equal(committed, n);
  assert.equal(t.pending(), 0);
});
