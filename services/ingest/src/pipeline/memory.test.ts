import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '@auditstream/observability';
import { Registry } from 'prom-client';
import { loadIngestConfig } from '../config.js';
import { createIngestMetrics } from '../metrics.js';
import { createMemoryGuard, PAUSE_AT } from './memory.js';

const logger = createLogger({ service: 'test', level: 'silent' });

function guard(rssValues: number[]) {
  const metrics = createIngestMetrics(new Registry());
  let i = 0;
  const collects: number[] = [];
  const g = createMemoryGuard({
    budgetBytes: 1000,
    metrics,
    logger,
    rss: () => rssValues[Math.min(i++, rssValues.length - 1)] as number,
    collect: () => collects.push(i),
  });
  return { g, metrics, collects };
}

test('under the pause threshold: relieve releases nothing, no pause counted', async () => {
  const { g, metrics, collects } = guard([PAUSE_AT * 1000 - 1]);
  let released = 0;
  await g.relieve(async () => {
    released++;
  });
  assert.equal(released, 0);
  assert.equal(collects.length, 0);
  assert.equal((await metrics.fetchPauses.get()).values[0]?.value, 0);
  assert.equal((await metrics.memoryBudget.get()).values[0]?.value, 1000);
});

test('over: pauses while the release runs, collects garbage when still over, then resumes', async () => {
  const { g, metrics, collects } = guard([900, 900, 900, 100]);
  let pausedDuring = -1;
  await g.relieve(async () => {
    pausedDuring = (await metrics.fetchPaused.get()).values[0]?.value ?? -1;
  });
  assert.equal(pausedDuring, 1);
  assert.equal(collects.length, 1);
  assert.equal((await metrics.fetchPaused.get()).values[0]?.value, 0);
  assert.equal((await metrics.fetchPauses.get()).values[0]?.value, 1);
  assert.equal((await metrics.memoryHeld.get()).values[0]?.value, 100);
});

test('the release freed enough: no collection; a failing release still resumes', async () => {
  const { g, metrics, collects } = guard([900, 100, 100, 900]);
  await g.relieve(async () => {});
  assert.equal(collects.length, 0);
  await assert.rejects(
    g.relieve(async () => {
      throw new Error('flush failed');
    }),
    /flush failed/,
  );
  assert.equal((await metrics.fetchPaused.get()).values[0]?.value, 0);
});

test('ingest.memory_budget_bytes: 512 MiB by default; below 64 MiB refused, naming the key', () => {
  assert.equal(loadIngestConfig({ env: {} }).ingest.memory_budget_bytes, 512 * 2 ** 20);
  assert.throws(() => loadIngestConfig({ env: { AUDITSTREAM_INGEST__MEMORY_BUDGET_BYTES: '1000' } }), /ingest\.memory_budget_bytes.*64 MiB/s);
});

test('a collection that cannot get under the threshold moves the next pause up by a step, never past PAUSE_AT_MOST; it falls back when memory is returned', async () => {
  // Budget 1000: threshold 750, ceiling 875, step 125.
  const rss = [800, 800, 800, 780, 780, 780, 780, 860, 900, 900, 900, 900, 890, 890, 890, 890, 700, 760];
  const { g, collects } = guard(rss);
  // 800 ≥ 750: pause, release, still 800, collect, 780 left → next pause at min(875, 905) = 875.
  await g.relieve(async () => {});
  assert.equal(collects.length, 1);
  assert.equal(g.over(), false, '780 is under the moved pause point');
  assert.equal(g.over(), false, '860 too');
  assert.equal(g.over(), true, '900 is over the ceiling');
  await g.relieve(async () => {});
  assert.equal(collects.length, 2);
  assert.equal(g.over(), false, '700: under the threshold again');
  assert.equal(g.over(), true, '760: the pause point fell back to the threshold');
});
