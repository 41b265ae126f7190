import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { createIngestMetrics } from '../metrics.js';
import { timedInsert, timeStage } from './stage-time.js';

async function seconds(metrics: ReturnType<typeof createIngestMetrics>): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await metrics.stageSeconds.get()).values) out[String(v.labels.stage)] = v.value;
  return out;
}

test('timeStage adds the wall time of the work to its stage, also when the work fails', async () => {
  const metrics = createIngestMetrics(new Registry());
  assert.equal(await timeStage(metrics, 'commit', async () => 7), 7);
  await assert.rejects(
    timeStage(metrics, 'dlq', async () => {
      await delay(20);
      throw new Error('broker down');
    }),
    /broker down/,
  );
  const s = await seconds(metrics);
  assert.ok(s.dlq !== undefined && s.dlq >= 0.015, `dlq ${s.dlq}`);
  assert.ok(s.commit !== undefined && s.commit < 0.015, `commit ${s.commit}`);
});

test('timedInsert splits a call into the INSERT itself and the work the wrapper does around it', async () => {
  const metrics = createIngestMetrics(new Registry());
  const seen: number[][] = [];
  const insert = timedInsert(
    metrics,
    async (rows: number[]) => {
      await delay(60);
      seen.push(rows);
    },
    (inner) => async (rows) => {
      await delay(25); // the chain before the INSERT
      await inner(rows);
    },
  );
  await insert([1, 2]);
  assert.deepEqual(seen, [[1, 2]]);
  const s = await seconds(metrics);
  assert.ok(s.insert !== undefined && s.insert >= 0.055, `insert ${s.insert}`);
  assert.ok(s.chain !== undefined && s.chain >= 0.02 && s.chain < s.insert, `chain ${s.chain}, insert ${s.insert}`);
});
