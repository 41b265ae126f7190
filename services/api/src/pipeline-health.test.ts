import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { createPipelineHealth } from './pipeline-health.js';

// The alerting service's /metrics page, as [metric, labels, value] lines.
const ALERTING = (
  [
    ['auditstream_alerting_sink_failures_total', 'sink="webhook",error_type="HTTP_500"', 2],
    ['auditstream_alerting_sink_failures_total', 'sink="webhook",error_type="TIMEOUT"', 3],
    ['auditstream_alerting_sink_failures_total', 'sink="slack",error_type="HTTP_429"', 2],
    ['auditstream_alerting_sink_deliveries_total', 'sink="webhook",result="delivered"', 10],
    ['auditstream_alerting_sink_deliveries_total', 'sink="webhook",result="failed"', 1],
    ['auditstream_alerting_sink_queue_depth', 'sink="webhook"', 3],
  ] as const
)
  .map(([name, labels, value]) => `${name}{${labels}} ${value}`)
  .join('\n');

test('alert delivery failures by sink from a /metrics page; an unreachable ingest is reported, not thrown', async () => {
  // A real HTTP server serving a metrics page (the alerting service's format).
  const server = createServer((_req, res) => res.end(ALERTING));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  try {
    const h = await createPipelineHealth({
      eventsTopic: 't',
      ingestGroupId: 'g',
      ingestMetricsUrl: 'http://127.0.0.1:1/metrics',
      alertingMetricsUrl: `http://127.0.0.1:${port}/metrics`,
      timeoutMs: 2000,
    }).read();
    assert.equal(h.alerting.reachable, true);
    assert.equal(h.alerting.delivery_failures_total, 7);
    assert.deepEqual(h.alerting.delivery_failures_by_sink, { webhook: 5, slack: 2 });
    assert.deepEqual(h.alerting.deliveries_by_result, { delivered: 10, failed: 1 });
    assert.equal(h.alerting.queue_depth, 3);
    assert.equal(h.ingest.reachable, false);
    assert.match(h.ingest.error ?? '', /unreachable/);
    assert.equal(h.ingest.dead_lettered_total, null);
    assert.equal(h.ingest_lag.reachable, false);
  } finally {
    server.close();
  }
});
