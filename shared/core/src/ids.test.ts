import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UUID_V7_RE, uuidv7 } from './ids.js';

test('uuidv7 encodes the 48-bit millisecond timestamp big-endian in the first 12 hex digits', () => {
  for (const ms of [0, 1, 255, 256, 0xffffffff, 0x100000000, 1_700_000_000_000, 2 ** 48 - 1]) {
    const id = uuidv7(ms);
    assert.match(id, UUID_V7_RE);
    assert.equal(id.slice(0, 8) + id.slice(9, 13), ms.toString(16).padStart(12, '0'), `ms=${ms}`);
  }
});

test('uuidv7: version 7, variant 10, ids unique over many pool refills, random bits well spread', () => {
  const n = 20_000; // ~49 refills of the 4 KiB random pool
  const ids = new Set<string>();
  const nibbleCounts = Array.from({ length: 36 }, () => new Array<number>(16).fill(0));
  for (let i = 0; i < n; i++) {
    const id = uuidv7(1_700_000_000_000);
    assert.equal(id.length, 36);
    assert.equal(id[14], '7');
    assert.ok('89ab'.includes(id[19] as string));
    ids.add(id);
    for (let c = 0; c < 36; c++) {
      const v = Number.parseInt(id[c] as string, 16);
      if (!Number.isNaN(v)) (nibbleCounts[c] as number[])[v] = ((nibbleCounts[c] as number[])[v] as number) + 1;
    }
  }
  assert.equal(ids.size, n);
  // Every fully random hex digit (rand_a after the version digit, rand_b after the variant digit) takes each of its 16 values about n/16 times.
  for (const c of [15, 16, 17, 20, 21, 22, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35]) {
    for (const count of nibbleCounts[c] as number[]) assert.ok(count > n / 16 - 200 && count < n / 16 + 200, `digit ${c}: ${count}`);
  }
  // The variant digit carries two random bits: 8, 9, a, b about n/4 each.
  const variant = (nibbleCounts[19] as number[]).slice(8, 12);
  for (const count of variant) assert.ok(count > n / 4 - 400 && count < n / 4 + 400, `variant digit: ${variant}`);
});

test('uuidv7 returns independent strings (the scratch buffer is not shared with callers)', () => {
  const a = uuidv7(1);
  const b = uuidv7(2);
  assert.notEqual(a, b);
  assert.equal(a.slice(0, 13), '00000000-0001');
  assert.equal(b.slice(0, 13), '00000000-0002');
});
