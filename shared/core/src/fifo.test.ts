import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Fifo } from './fifo.js';

test('Fifo: items leave in the order they came, with peek/last/at over what is queued', () => {
  const q = new Fifo<number>();
  assert.equal(q.shift(), undefined);
  assert.equal(q.peek(), undefined);
  for (let i = 0; i < 5; i++) q.push(i);
  assert.equal(q.length, 5);
  assert.equal(q.shift(), 0);
  assert.equal(q.peek(), 1);
  assert.equal(q.last(), 4);
  assert.equal(q.at(1), 2);
  assert.equal(q.at(4), undefined);
  assert.deepEqual(q.take(2), [1, 2]);
  assert.deepEqual([...q], [3, 4]);
  assert.deepEqual(q.take(10), [3, 4]);
  assert.equal(q.length, 0);
  assert.equal(q.last(), undefined);
});

test('Fifo: stays correct across compactions of a long-running queue', () => {
  const q = new Fifo<number>();
  let next = 0;
  let expected = 0;
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < 997; i++) q.push(next++);
    const n = round % 2 ? 1500 : 400;
    for (let i = 0; i < n && q.length > 0; i++) assert.equal(q.shift(), expected++);
    assert.equal(q.length, next - expected);
    assert.equal(q.peek(), q.length ? expected : undefined);
  }
  assert.deepEqual(
    q.clear(),
    Array.from({ length: next - expected }, (_, i) => expected + i),
  );
  assert.equal(q.length, 0);
});
