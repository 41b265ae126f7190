import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '@auditstream/core';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { parse } from 'yaml';
import { scanMetrics } from '../../scripts/metric-catalogue.js';

const root = repoRoot();
const catalogue = scanMetrics(root);
const names = new Set(catalogue.map((m) => m.name));

function defaultMetricNames(): Set<string> {
  const r = new Registry();
  collectDefaultMetrics({ register: r, prefix: 'auditstream_' });
  return new Set(r.getMetricsAsArray().map((m) => (m as unknown as { name: string }).name));
}

/** Series names a PromQL expression reads (histogram suffixes folded onto their metric). */
function seriesIn(expr: string): string[] {
  const stripped = expr.replace(/"[^"]*"/g, '""').replace(/\{[^}]*\}/g, '');
  return [...stripped.matchAll(/\b(auditstream_[a-z0-9_]+|up)\b/g)].map((m) => (m[1] as string).replace(/_(bucket|sum|count)$/, ''));
}

test('metric names follow Prometheus conventions and every metric is documented', () => {
  for (const m of catalogue) {
    assert.match(m.name, /^auditstream_[a-z]+_[a-z0-9_]+$/, m.name);
    if (m.type === 'counter') assert.match(m.name, /_total$/, `${m.name}: counters end in _total`);
    else assert.doesNotMatch(m.name, /_total$/, `${m.name}: only counters end in _total`);
    assert.ok(m.help.length > 10, `${m.name} has no meaningful help text`);
    for (const l of m.labels)
      assert.ok(!['tenant', 'tenant_id', 'actor', 'actor_id', 'message', 'error', 'event_id', 'ip'].includes(l), `${m.name}: unbounded label ${l}`);
  }
});

test('every component counts what it received, sent or stored, and its errors', () => {
  for (const n of [
    'auditstream_ingest_received_events_total',
    'auditstream_ingest_inserted_events_total',
    'auditstream_ingest_dead_lettered_events_total',
    'auditstream_ingest_errors_total',
    'auditstream_alerting_evaluated_events_total',
    'auditstream_alerting_sink_deliveries_total',
    'auditstream_alerting_sink_failures_total',
    'auditstream_api_requests_total',
    'auditstream_producer_published_events_total',
    'auditstream_producer_failed_events_total',
  ]) {
    assert.ok(names.has(n), `${n} is missing`);
  }
});

test('Prometheus rules and Grafana dashboards only use metrics that exist', () => {
  const defaults = defaultMetricNames();
  const recorded = new Set<string>();
  const exprs: { where: string; expr: string }[] = [];
  const rulesDir = join(root, 'deploy/prometheus/rules');
  for (const f of readdirSync(rulesDir).filter((x) => x.endsWith('.yml'))) {
    const doc = parse(readFileSync(join(rulesDir, f), 'utf8')) as { groups: { rules: { record?: string; alert?: string; expr: string }[] }[] };
    for (const g of doc.groups) {
      for (const r of g.rules) {
        if (r.record) recorded.add(r.record);
        exprs.push({ where: `${f}: ${r.record ?? r.alert}`, expr: r.expr });
      }
    }
  }
  const dashDir = join(root, 'deploy/grafana/dashboards');
  for (const f of readdirSync(dashDir).filter((x) => x.endsWith('.json'))) {
    const dash = JSON.parse(readFileSync(join(dashDir, f), 'utf8')) as { panels: { title: string; targets: { expr: string }[] }[] };
    for (const p of dash.panels) for (const t of p.targets) exprs.push({ where: `${f}: ${p.title}`, expr: t.expr });
  }
  assert.ok(exprs.length > 30);
  for (const { where, expr } of exprs) {
    for (const s of seriesIn(expr)) {
      if (s === 'up') continue;
      assert.ok(names.has(s) || defaults.has(s) || recorded.has(s), `${where} uses ${s}, which no code defines`);
    }
  }
});
