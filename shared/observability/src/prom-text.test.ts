import assert from 'node:assert/strict';
import { test } from 'node:test';
import { metricTotal, parsePrometheusText } from './prom-text.js';

const PAGE = `# HELP auditstream_alerting_sink_failures_total Failed delivery attempts
# TYPE auditstream_alerting_sink_failures_total counter
auditstream_alerting_sink_failures_total{sink="webhook",error_type="HTTP_503"} 4
auditstream_alerting_sink_failures_total{sink="webhook",error_type="TIMEOUT"} 1
auditstream_alerting_sink_failures_total{sink="slack",error_type="HTTP_429"} 2
auditstream_alerting_sink_deliveries_total{sink="webhook",result="delivered"} 10
auditstream_alerting_sink_deliveries_total{sink="webhook",result="failed"} 1
auditstream_alerting_sink_queue_depth{sink="webhook"} 3
odd_metric{label="a \\"quoted\\" value"} 1.5e3
not a sample line
`;

test('the Prometheus text format: labels (escaped quotes too), comments skipped, exponent values', () => {
  const s = parsePrometheusText(PAGE);
  assert.equal(s.length, 7);
  assert.deepEqual(s[0], { name: 'auditstream_alerting_sink_failures_total', labels: { sink: 'webhook', error_type: 'HTTP_503' }, value: 4 });
  assert.deepEqual(s.at(-1), { name: 'odd_metric', labels: { label: 'a "quoted" value' }, value: 1500 });
});

test('metricTotal sums every series of a metric, and is null for a metric the page lacks', () => {
  const s = parsePrometheusText(PAGE);
  assert.equal(metricTotal(s, 'auditstream_alerting_sink_failures_total'), 7);
  assert.equal(metricTotal(s, 'auditstream_ingest_batch_rows_sum'), null);
});
