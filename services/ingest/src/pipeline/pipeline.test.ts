import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { createLogger } from '@auditstream/observability';
import { Registry } from 'prom-client';
import { createIngestMetrics } from '../metrics.js';
import type { DeadLetter, IngestRecord, Outcome, SourceMessage } from '../types.js';
import { createPipeline, MEMORY_CHECK_EVERY, type PipelineDeps } from './pipeline.js';
import type { PartitionBatch } from './source.js';

const logger = createLogger({ service: 'test', level: 'silent' });

function msg(partition: number, offset: number, value = 'ok'): SourceMessage {
  return { topic: 't', partition, offset: String(offset), timestamp: '1700000000000', key: null, value: Buffer.from(value), headers: {}, size: 10 };
}

function harness(over: Partial<PipelineDeps> = {}, opts: { writeMs?: number } = {}) {
  const log: string[] = [];
  const commits: { partition: number; offset: string }[][] = [];
  const fatals: unknown[] = [];
  const deps: PipelineDeps = {
    config: { batchMaxRows: 1000, batchMaxBytes: 1_000_000, batchMaxAgeMs: 60_000, heartbeatIntervalMs: 10, retry: { initial_delay_ms: 1, max_delay_ms: 2 } },
    process: (m): Outcome =>
      m.value?.toString() === 'bad'
        ? { kind: 'dead', dead: { source: m, errorClass: 'not_avro', reason: 'r' } }
        : { kind: 'record', record: { event: { occurred_at: Date.now() * 1000 }, source: m } as unknown as IngestRecord },
    write: async (records: readonly IngestRecord[]) => {
      if (opts.writeMs) await delay(opts.writeMs);
      log.push(`insert ${records.map((r) => `${r.source.partition}:${r.source.offset}`).join(',')}`);
      return { inserted: [...records], rejected: [], statements: 1 };
    },
    deadLetter: async (deads: readonly DeadLetter[]) => {
      if (deads.length) log.push(`dlq ${deads.map((d) => `${d.source.partition}:${d.source.offset}`).join(',')}`);
    },
    metrics: createIngestMetrics(new Registry()),
    logger,
    signal: new AbortController().signal,
    onFatal: (e) => fatals.push(e),
    ...over,
  };
  const p = createPipeline(deps);
  p.onAssigned([0, 1]);
  const batch = (partition: number, offsets: number[], extra: Partial<PartitionBatch> = {}, values: Record<number, string> = {}): PartitionBatch => ({
    topic: 't',
    partition,
    messages: offsets.map((o) => msg(partition, o, values[o])),
    lastOffset: String(offsets[offsets.length - 1]),
    highWatermark: String((offsets[offsets.length - 1] as number) + 1),
    heartbeat: async () => {},
    commit: async (offsets) => {
      log.push(`commit ${offsets.map((o) => `${o.partition}@${o.offset}`).join(',')}`);
      commits.push(offsets);
    },
    ...extra,
  });
  return { p, log, commits, fatals, batch, metrics: deps.metrics };
}

test('one fetch round → one INSERT across partitions, DLQ acked, then one commit; handlers return only after it', async () => {
  const h = harness();
  const order: string[] = [];
  await Promise.all([
    h.p.handleBatch(h.batch(0, [5, 6, 7], {}, { 6: 'bad' })).then(() => order.push('p0 returned')),
    h.p.handleBatch(h.batch(1, [0, 1])).then(() => order.push('p1 returned')),
  ]);
  assert.deepEqual(h.log, ['insert 0:5,0:7,1:0,1:1', 'dlq 0:6', 'commit 0@8,1@2']);
  assert.equal(order.length, 2);
  const timed = (await h.metrics.stageSeconds.get()).values.map((v) => v.labels.stage).sort();
  assert.deepEqual(timed, ['commit', 'dlq', 'process'], 'the pipeline times its own stages (the sink times the rest)');
});

test('a rebalance seen while waiting on a slow flush: flush at once, commit, then rethrow so kafkajs rejoins', async () => {
  const h = harness({}, { writeMs: 80 });
  const rebalance = Object.assign(new Error('The group is rebalancing'), { type: 'REBALANCE_IN_PROGRESS' });
  const b = h.batch(0, [1, 2], {
    heartbeat: async () => {
      throw rebalance;
    },
  });
  await assert.rejects(h.p.handleBatch(b), (e) => e === rebalance);
  assert.deepEqual(h.log, ['insert 0:1,0:2', 'commit 0@3']);
  assert.equal(h.fatals.length, 0);
});

test('a rebalance: beforeRevoke (sign pending checkpoints) runs after the final flush and commit, before the rethrow', async () => {
  let log: string[] = [];
  const h = harness(
    {
      beforeRevoke: async () => {
        log.push('before revoke');
      },
    },
    { writeMs: 80 },
  );
  log = h.log;
  const rebalance = Object.assign(new Error('The group is rebalancing'), { type: 'REBALANCE_IN_PROGRESS' });
  const b = h.batch(0, [1, 2], {
    heartbeat: async () => {
      throw rebalance;
    },
  });
  await assert.rejects(h.p.handleBatch(b), (e) => e === rebalance);
  assert.deepEqual(h.log, ['insert 0:1,0:2', 'commit 0@3', 'before revoke']);
  await h.p.handleBatch(h.batch(1, [0]));
  assert.deepEqual(h.log.slice(3), ['insert 1:0', 'commit 1@1'], 'no rebalance, no beforeRevoke');
});

test('a flush above the row limit is split; each commit only covers contiguous stored offsets', async () => {
  const h = harness({
    config: { batchMaxRows: 2, batchMaxBytes: 1_000_000, batchMaxAgeMs: 60_000, heartbeatIntervalMs: 10, retry: { initial_delay_ms: 1, max_delay_ms: 2 } },
  });
  await h.p.handleBatch(h.batch(0, [0, 1, 2, 3, 4]));
  assert.deepEqual(h.log, ['insert 0:0,0:1', 'commit 0@2', 'insert 0:2,0:3', 'commit 0@4', 'insert 0:4', 'commit 0@5']);
});

test('a fatal write error: nothing is committed, the handler throws, the service is told', async () => {
  const h = harness({
    write: async () => {
      throw new Error('auth');
    },
  });
  await assert.rejects(h.p.handleBatch(h.batch(0, [0, 1])), /auth/);
  assert.deepEqual(h.commits, []);
  assert.equal(h.fatals.length, 1);
});

test('a commit refused by the group does not fail the batch (the rows are stored; redelivery collapses)', async () => {
  const h = harness();
  const b = h.batch(0, [0], {
    commit: async () => {
      throw Object.assign(new Error('gen'), { type: 'ILLEGAL_GENERATION' });
    },
  });
  await h.p.handleBatch(b);
  assert.deepEqual(h.log, ['insert 0:0']);
  assert.equal(h.fatals.length, 0);
});

test('offsets of partitions lost in a rebalance are not committed', async () => {
  const h = harness();
  const first = h.p.handleBatch(h.batch(0, [0]));
  await first;
  h.p.onAssigned([1]);
  await h.p.handleBatch(h.batch(1, [3]));
  assert.deepEqual(h.log, ['insert 0:0', 'commit 0@1', 'insert 1:3', 'commit 1@4']);
});

test('memory budget: over it between chunks, the handler stores what it decoded before decoding more', async () => {
  let decoded = 0;
  let relievedAt = -1;
  const inserts: number[] = [];
  const h = harness({
    process: (m): Outcome => {
      decoded++;
      return { kind: 'record', record: { event: { occurred_at: Date.now() * 1000 }, source: m } as unknown as IngestRecord };
    },
    memory: {
      budgetBytes: 1,
      held: () => 0,
      // Over once: when the second chunk is about to be decoded.
      over: () => decoded === MEMORY_CHECK_EVERY && relievedAt === -1,
      relieve: async (release) => {
        relievedAt = decoded;
        await release();
      },
    },
    write: async (records) => {
      inserts.push(records.length);
      return { inserted: [...records], rejected: [], statements: 1 };
    },
  });
  const n = MEMORY_CHECK_EVERY + 5;
  await h.p.handleBatch(
    h.batch(
      0,
      Array.from({ length: n }, (_, i) => i),
    ),
  );
  assert.equal(relievedAt, MEMORY_CHECK_EVERY);
  assert.deepEqual(inserts, [MEMORY_CHECK_EVERY, 5], 'the first chunk was stored before the rest was decoded');
  assert.deepEqual(h.commits.at(-1), [{ partition: 0, offset: String(n) }]);
  assert.equal(h.fatals.length, 0);
});
