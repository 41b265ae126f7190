import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Histogram, Registry } from 'prom-client';
import { LATENCY_BUCKETS, LatencyHistogram } from './metrics.js';

test('LatencyHistogram renders exactly like a prom-client Histogram with the same observations', async () => {
  const ours = new Registry();
  const theirs = new Registry();
  const h = new LatencyHistogram('x_seconds', 'Help text.', LATENCY_BUCKETS);
  ours.registerMetric(h as never);
  const ref = new Histogram({ name: 'x_seconds', help: 'Help text.', buckets: LATENCY_BUCKETS, registers: [theirs] });
  const samples = [0, 0.0005, 0.001, 0.0010001, 0.003, 0.025, 0.7, 1, 29.9, 30, 31, 1e6, ...Array.from({ length: 500 }, (_, i) => (i * 0.137) % 12)];
  for (const v of samples) {
    h.observe(v);
    ref.observe(v);
  }
  assert.equal(await ours.metrics(), await theirs.metrics());
  assert.deepEqual(await ours.getMetricsAsJSON(), await theirs.getMetricsAsJSON());
  h.reset();
  ref.reset();
  ref.zero({});
  assert.equal(await ours.metrics(), await theirs.metrics(), 'after reset: zero buckets, sum and count');
});
