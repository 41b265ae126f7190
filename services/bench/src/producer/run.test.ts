// Unit: runProducerBench rejects bad options up front, naming the option, before touching a broker.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AuditstreamError } from '@auditstream/core';
import { type ProducerBenchOptions, runProducerBench } from './run.js';

// A port nothing listens on: if validation let an option through, the run would fail differently (connection).
const base: ProducerBenchOptions = { brokers: ['127.0.0.1:1'], events: 10, rounds: 1, rate: 100 };

const cases: Array<[string, Partial<Record<keyof ProducerBenchOptions, unknown>>]> = [
  ['brokers', { brokers: [] }],
  ['brokers', { brokers: ['no-port'] }],
  ['events', { events: 0 }],
  ['events', { events: Number.NaN }],
  ['events', { events: 1.5 }],
  ['rounds', { rounds: 0 }],
  ['rate', { rate: 0 }],
  ['rate', { rate: Number.POSITIVE_INFINITY }],
  ['batch', { batch: 0 }],
  ['partitions', { partitions: -1 }],
  ['window', { window: 0 }],
  ['latency_sample_every', { latency_sample_every: 0 }],
  ['paced_seconds', { paced_seconds: -1 }],
  ['warmup_events', { warmup_events: -1 }],
  ['only', { only: 'both' }],
  ['topic_prefix', { topic_prefix: 'bad-name' }],
];

for (const [field, patch] of cases) {
  test(`runProducerBench: ${field}=${String(Object.values(patch)[0])} is rejected with BENCH_INVALID naming ${field}`, async () => {
    await assert.rejects(
      runProducerBench({ ...base, ...patch } as ProducerBenchOptions),
      (err: unknown) => err instanceof AuditstreamError && err.code === 'BENCH_INVALID' && err.field === field && err.message.includes(field),
    );
  });
}

test('runProducerBench: an already aborted signal rejects with BENCH_ABORTED before connecting', async () => {
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(runProducerBench({ ...base, signal: ac.signal }), (err: unknown) => err instanceof AuditstreamError && err.code === 'BENCH_ABORTED');
});
