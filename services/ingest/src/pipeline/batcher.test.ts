import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { createBatcher } from './batcher.js';

function recorder(opts: { maxRows?: number; maxBytes?: number; maxAgeMs?: number; flushMs?: number; fail?: boolean } = {}) {
  const flushes: number[][] = [];
  const b = createBatcher<number>({
    maxRows: opts.maxRows ?? 1000,
    maxBytes: opts.maxBytes ?? 1_000_000,
    maxAgeMs: opts.maxAgeMs ?? 60_000,
    flush: async (items) => {
      if (opts.flushMs) await delay(opts.flushMs);
      if (opts.fail) throw new Error('boom');
      flushes.push(items);
    },
  });
  const add = (from: number, n: number, bytes = 10) => b.add(Array.from({ length: n }, (_, i) => ({ item: from + i, bytes })));
  return { b, flushes, add };
}

test('flushes when the row limit is reached, one flush per limit, oldest first', async () => {
  const { b, flushes, add } = recorder({ maxRows: 3 });
  const p = add(0, 7);
  // 7 items: 3 + 3 flushed by the limit; the 7th waits for age or flushNow.
  await delay(10);
  assert.deepEqual(flushes, [
    [0, 1, 2],
    [3, 4, 5],
  ]);
  b.flushNow();
  await p;
  assert.deepEqual(flushes.at(-1), [6]);
});

test('flushes on bytes before rows', async () => {
  const { b, flushes, add } = recorder({ maxBytes: 25 });
  const p = add(0, 5, 10);
  await delay(5);
  // 10+10 < 25 then 30 > 25: chunks of two.
  assert.deepEqual(flushes, [
    [0, 1],
    [2, 3],
  ]);
  b.flushNow();
  await p;
  assert.deepEqual(flushes.at(-1), [4]);
});

test('flushes on age', async () => {
  const { flushes, add } = recorder({ maxAgeMs: 50 });
  const started = Date.now();
  await add(0, 2);
  const took = Date.now() - started;
  assert.deepEqual(flushes, [[0, 1]]);
  assert.ok(took >= 45 && took < 1000, `age flush after ${took} ms`);
});

test('add resolves only once its items are flushed, across partitions (one flush for several adds)', async () => {
  const { b, flushes, add } = recorder({ flushMs: 20 });
  let firstDone = false;
  const p1 = add(0, 2).then(() => {
    firstDone = true;
  });
  const p2 = add(10, 2);
  await delay(5);
  assert.equal(firstDone, false);
  assert.deepEqual(b.size(), { rows: 4, bytes: 40 });
  b.flushNow();
  await Promise.all([p1, p2]);
  assert.deepEqual(flushes, [[0, 1, 10, 11]]);
  assert.deepEqual(b.size(), { rows: 0, bytes: 0 });
});

test('one flush at a time: items added during a flush go to the next one', async () => {
  const { b, flushes, add } = recorder({ flushMs: 30 });
  const p1 = add(0, 2);
  b.flushNow();
  await delay(5);
  const p2 = add(2, 2);
  b.flushNow();
  await Promise.all([p1, p2]);
  assert.deepEqual(flushes, [
    [0, 1],
    [2, 3],
  ]);
});

test('drain flushes everything and resolves when done', async () => {
  const { b, flushes, add } = recorder();
  void add(0, 3);
  await b.drain();
  assert.deepEqual(flushes, [[0, 1, 2]]);
});

test('a failed flush rejects pending and later adds (fatal)', async () => {
  const { b, add } = recorder({ fail: true });
  const p = add(0, 2);
  b.flushNow();
  await assert.rejects(p, /boom/);
  await assert.rejects(add(2, 1), /boom/);
  assert.ok(b.failed());
});
