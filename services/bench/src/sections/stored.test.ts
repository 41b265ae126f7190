import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ClickHouse } from '@auditstream/clickhouse';
import { EXACT_EVERY_MS, waitStored } from './stored.js';

/** A client whose system.parts row count follows `rows()` (the only query waitStored sends itself). */
function fakeClient(rows: () => number): ClickHouse {
  return {
    queryRows: async () => [{ n: String(rows()) }],
  } as unknown as ClickHouse;
}

test('the exact count runs only once the parts hold the rows, and the first rows time the steady rate', async () => {
  let parts = 0;
  let exactCalls = 0;
  const t = await waitStored({
    ch: fakeClient(() => {
      parts = Math.min(parts + 400, 1000);
      return parts;
    }),
    database: 'db',
    n: 1000,
    exact: async () => {
      exactCalls++;
      return parts;
    },
    pollMs: 1,
    deadline: Date.now() + 10_000,
    what: 'test',
  });
  assert.equal(t.count, 1000);
  assert.equal(t.firstRows, 400);
  assert.equal(exactCalls, 1, 'no exact count while the parts were short of n');
});

test('a baseline the merges shrank does not hang the wait: the exact count also runs now and then', { timeout: 4 * EXACT_EVERY_MS }, async () => {
  let exactCalls = 0;
  const t = await waitStored({
    // 1,000 stored, but copies of the earlier backlog merged away: parts − baseline stays at 990.
    ch: fakeClient(() => 5990),
    database: 'db',
    n: 1000,
    baselineRows: 5000,
    exact: async () => {
      exactCalls++;
      return 1000;
    },
    pollMs: 20,
    deadline: Date.now() + 3 * EXACT_EVERY_MS,
    what: 'test',
  });
  assert.equal(t.count, 1000);
  assert.equal(exactCalls, 1);
});

test('a child that exits stops the wait with its error, and the bound with a timeout naming what was stored', async () => {
  await assert.rejects(
    waitStored({
      ch: fakeClient(() => 10),
      database: 'db',
      n: 1000,
      exact: async () => 10,
      pollMs: 1,
      deadline: Date.now() + 10_000,
      check: () => {
        throw new Error('child exited');
      },
      what: 'test',
    }),
    /child exited/,
  );
  await assert.rejects(
    waitStored({ ch: fakeClient(() => 10), database: 'db', n: 1000, exact: async () => 10, pollMs: 1, deadline: Date.now() + 30, what: 'ingest' }),
    (err: Error & { code?: string }) => err.code === 'BENCH_TIMEOUT' && /ingest: 10 of 1000 stored/.test(err.message),
  );
});
