import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clusterTableRows, medians, withScalingRatios } from '../report.js';
import { incidentMismatch, ORDER_DEPENDENT_RULES, sideOrder, summarizeFired } from './cluster.js';

test('sides alternate: as listed on even runs, reversed on odd ones', () => {
  assert.deepEqual(sideOrder(0, [1, 2]), [1, 2]);
  assert.deepEqual(sideOrder(1, [1, 2]), [2, 1]);
  assert.deepEqual(sideOrder(2, [1, 3]), [1, 3]);
  assert.deepEqual(sideOrder(3, [1, 3]), [3, 1]);
});

test('scaling ratios are taken within each run, then the median over runs', () => {
  const runs = [
    { cluster_ingest_1_events_per_s: 1000, cluster_ingest_2_events_per_s: 1500, cluster_alerting_1_events_per_s: 400, cluster_alerting_3_events_per_s: 400 },
    { cluster_ingest_1_events_per_s: 2000, cluster_ingest_2_events_per_s: 2200, cluster_alerting_1_events_per_s: 100, cluster_alerting_3_events_per_s: 300 },
    { cluster_ingest_1_events_per_s: 1200, cluster_ingest_2_events_per_s: 1200, cluster_alerting_1_events_per_s: 200, cluster_alerting_3_events_per_s: 260 },
  ].map(withScalingRatios);
  assert.equal(runs[0]?.cluster_ingest_2_over_1, 1.5);
  const m = medians(runs);
  // per run 1.5, 1.1, 1.0 → 1.1; not the ratio of the medians (1500 / 1200 = 1.25)
  assert.equal(m.cluster_ingest_2_over_1, 1.1);
  // per run 1, 3, 1.3 → 1.3
  assert.equal(m.cluster_alerting_3_over_1, 1.3);
  assert.ok(Number.isNaN(withScalingRatios({ cluster_ingest_1_events_per_s: 1 }).cluster_ingest_2_over_1), 'a missing side is no ratio');
});

test('fired alerts: incidents outside the order-dependent rules, and alert ids delivered twice', () => {
  const s = summarizeFired([
    { rule_id: 'brute_force', group_key: 't|u1', alert_id: 'a' },
    { rule_id: 'brute_force', group_key: 't|u2', alert_id: 'b' },
    { rule_id: 'password_spraying', group_key: 't|1.2.3.4', alert_id: 'c' },
    { rule_id: 'brute_force', group_key: 't|u1', alert_id: 'a' },
    ...[...ORDER_DEPENDENT_RULES].map((r, i) => ({ rule_id: r, group_key: 't|p', alert_id: `o${i}` })),
  ]);
  assert.deepEqual([...s.incidents].sort(), ['brute_force t|u1', 'brute_force t|u2', 'password_spraying t|1.2.3.4']);
  assert.deepEqual(s.duplicates, ['a']);
  assert.equal(s.alerts, 4 + ORDER_DEPENDENT_RULES.size);
  assert.deepEqual(incidentMismatch(new Set(['x', 'y']), new Set(['y', 'z'])), ['x', 'z']);
  assert.deepEqual(incidentMismatch(new Set(['x']), new Set(['x'])), []);
});

test('--cluster table: both sides with their load average, the ratios, and n/a for what was not measured', () => {
  const rows = clusterTableRows(
    withScalingRatios({
      cluster_ingest_1_events_per_s: 3000,
      cluster_ingest_1_load1: 7.25,
      cluster_ingest_2_events_per_s: 4500,
      cluster_ingest_2_load1: 9,
      cluster_alerting_1_events_per_s: 2000,
      cluster_alert_incidents: 997,
    }),
  );
  const value = (f: string) => rows.find(([, g]) => g === f)?.[2];
  assert.equal(value('1 instance (spawn → all N stored)'), '3,000 events/s (load 7.3)');
  assert.equal(value('2 instances, one group'), '4,500 events/s (load 9.0)');
  assert.equal(value('2 / 1'), '1.50×');
  assert.equal(value('3 / 1'), 'n/a×');
  assert.equal(value('3 instances, repartition on'), 'n/a events/s (load n/a)');
  assert.equal(value('incidents fired (the same on both sides)'), '997');
  assert.deepEqual([...new Set(rows.map(([s]) => s))], ['backlog', 'ingest', 'alerting', 'load']);
});
