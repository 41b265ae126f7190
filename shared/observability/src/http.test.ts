import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Counter } from 'prom-client';
import { startObservabilityServer } from './http.js';
import { createMetricsRegistry } from './metrics.js';

test('serves metrics from its own registry, liveness and readiness', async () => {
  const registry = createMetricsRegistry({ service: 'test', defaultMetrics: false });
  new Counter({ name: 'auditstream_test_events_total', help: 'x', registers: [registry] }).inc(3);
  let ready = false;
  const srv = await startObservabilityServer({ host: '127.0.0.1', port: 0, registry, readiness: [{ name: 'dep', check: () => ready }] });
  try {
    const m = await (await fetch(`${srv.url}/metrics`)).text();
    assert.match(m, /auditstream_test_events_total\{service="test"\} 3/);
    assert.equal((await fetch(`${srv.url}/healthz`)).status, 200);
    const r1 = await fetch(`${srv.url}/readyz`);
    assert.equal(r1.status, 503);
    assert.deepEqual(((await r1.json()) as { checks: unknown }).checks, { dep: false });
    ready = true;
    assert.equal((await fetch(`${srv.url}/readyz`)).status, 200);
    assert.equal((await fetch(`${srv.url}/nope`)).status, 404);
  } finally {
    await srv.close();
  }
});
