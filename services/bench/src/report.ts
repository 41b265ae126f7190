// The bench report: medians over runs of every figure, one table, and the JSON document.
import { INGEST_STAGES } from '@auditstream/ingest';
import { median } from './stats.js';

export type RunFigures = Record<string, number>;

export interface MachineInfo {
  cpus: number;
  cpu_model: string;
  memory_bytes: number;
  node: string;
  clickhouse_version: string;
  kafka_version: string;
}

export interface BenchReport {
  at: string;
  command: string;
  events: number;
  runs: number;
  /** Set when only some sections ran (`--only`). */
  only?: 'query' | 'ingest' | 'cluster';
  machine: MachineInfo;
  /** Median of each figure over the runs. */
  median: RunFigures;
  /** Every run's figures, for the spread. */
  per_run: RunFigures[];
  notes: Record<string, string>;
  /** Sections that failed (their figures are missing, shown as n/a); empty when everything ran. */
  errors: string[];
  profile?: unknown;
  wall_seconds: number;
}

export function medians(runs: readonly RunFigures[]): RunFigures {
  const keys = new Set(runs.flatMap((r) => Object.keys(r)));
  const out: RunFigures = {};
  for (const k of keys) out[k] = median(runs.map((r) => r[k] ?? Number.NaN));
  return out;
}

/** Adds one run's ratios: pipeline / min(limits) and ours / anchor (the report takes their median over runs). */
export function withRatios(m: RunFigures): RunFigures {
  const limit = Math.min(m.kafka_read_events_per_s ?? Number.NaN, m.clickhouse_write_events_per_s ?? Number.NaN);
  return {
    ...m,
    ingest_over_min_limit: (m.ingest_events_per_s ?? Number.NaN) / limit,
    ingest_over_anchor: (m.ingest_events_per_s ?? Number.NaN) / (m.anchor_events_per_s ?? Number.NaN),
  };
}

/** Adds one `--cluster` run's scaling ratios, side by side within the run: ingest 2 instances / 1, alerting 3 / 1. */
export function withScalingRatios(m: RunFigures): RunFigures {
  const r = (a: string, b: string) => (m[a] ?? Number.NaN) / (m[b] ?? Number.NaN);
  return {
    ...m,
    cluster_ingest_2_over_1: r('cluster_ingest_2_events_per_s', 'cluster_ingest_1_events_per_s'),
    cluster_ingest_steady_2_over_1: r('cluster_ingest_2_steady_events_per_s', 'cluster_ingest_1_steady_events_per_s'),
    cluster_alerting_3_over_1: r('cluster_alerting_3_events_per_s', 'cluster_alerting_1_events_per_s'),
    cluster_alerting_steady_3_over_1: r('cluster_alerting_3_steady_events_per_s', 'cluster_alerting_1_steady_events_per_s'),
  };
}

const SERVICES = ['ingest', 'alerting', 'api', 'clickhouse', 'kafka', 'bench'] as const;

/** Table rows: [section, figure, value]. Every row is present; a figure not measured shows as "n/a". */
export function tableRows(m: RunFigures): Array<[string, string, string]> {
  const n = (v: number | undefined, digits = 0) =>
    v === undefined || !Number.isFinite(v) ? 'n/a' : v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  const rate = (k: string) => `${n(m[k])} events/s`;
  const ms = (k: string) => `${n(m[k], 1)} ms`;
  const x = (k: string) => `${n(m[k], 2)}×`;
  const mib = (k: string) => `${n((m[k] ?? Number.NaN) / 2 ** 20)} MiB`;
  const rows: Array<[string, string, string]> = [
    ['producer', 'SDK publish()', rate('producer_sdk_events_per_s')],
    ['producer', 'raw kafkajs sendBatch (same bytes)', rate('producer_raw_events_per_s')],
    ['producer', 'SDK / raw', x('producer_ratio')],
    ['producer', 'publish() latency p50 / p99', `${ms('producer_publish_p50_ms')} / ${ms('producer_publish_p99_ms')}`],
    ['ingest', 'pipeline (ingest start → all N queryable)', rate('ingest_events_per_s')],
    ['ingest', 'pipeline (first publish → all N queryable)', rate('ingest_from_first_publish_events_per_s')],
    ['ingest', 'Kafka read limit (raw kafkajs, discard)', rate('kafka_read_events_per_s')],
    ['ingest', 'ClickHouse write limit (clickhouse-client, same rows)', rate('clickhouse_write_events_per_s')],
    ['ingest', 'pipeline / min(limits)', x('ingest_over_min_limit')],
    [
      'ingest',
      `ingest wall time per event by stage (${INGEST_STAGES.join(' · ')})`,
      `${INGEST_STAGES.map((st) => n(m[`ingest_stage_${st}_us_per_event`], 1)).join(' · ')} µs`,
    ],
    ['anchor', 'ClickHouse Kafka engine + MV (JSONEachRow)', rate('anchor_events_per_s')],
    ['anchor', 'ours / Kafka engine', x('ingest_over_anchor')],
    [
      'latency',
      `publish → queryable p50 / p95 / p99 (fetch wait ${n(m.latency_fetch_wait_ms)} ms) at ${n(m.latency_rate_per_s)} events/s`,
      `${ms('latency_p50_ms')} / ${ms('latency_p95_ms')} / ${ms('latency_p99_ms')}`,
    ],
    [
      'latency',
      'the same with ingest fetch_max_wait_ms 1000',
      `${ms('latency_wait1000_p50_ms')} / ${ms('latency_wait1000_p95_ms')} / ${ms('latency_wait1000_p99_ms')}`,
    ],
    [
      'latency',
      'ingest meanwhile: rows per INSERT / mean INSERT time (first · wait 1000)',
      `${n(m.latency_rows_per_insert)} / ${ms('latency_insert_mean_ms')} · ${n(m.latency_wait1000_rows_per_insert)} / ${ms('latency_wait1000_insert_mean_ms')}`,
    ],
    ['alerting', `publish → alert p50 / p99 (background ${n(m.alert_background_per_s)} events/s)`, `${ms('alert_p50_ms')} / ${ms('alert_p99_ms')}`],
    ['query', 'events by actor p50 / p99', `${ms('query_by_actor_p50_ms')} / ${ms('query_by_actor_p99_ms')}`],
    ['query', 'events by resource p50 / p99', `${ms('query_by_resource_p50_ms')} / ${ms('query_by_resource_p99_ms')}`],
    ['query', 'time range + action p50 / p99', `${ms('query_range_action_p50_ms')} / ${ms('query_range_action_p99_ms')}`],
    ['query', 'top-10 actors p50 / p99', `${ms('query_top_actors_p50_ms')} / ${ms('query_top_actors_p99_ms')}`],
    ['query', 'hourly time series p50 / p99', `${ms('query_timeseries_hourly_p50_ms')} / ${ms('query_timeseries_hourly_p99_ms')}`],
    ['memory', 'ingest peak RSS over the drain of the N', mib('ingest_drain_peak_rss_bytes')],
    [
      'memory',
      `ingest peak RSS, second backlog of ${n(m.outage_events)} with a ${n(m.outage_pause_s)} s ClickHouse pause (budget ${mib('outage_memory_budget_bytes')})`,
      mib('outage_ingest_peak_rss_bytes'),
    ],
    ['memory', 'events of that backlog stored once at the end', `${n(m.outage_stored_events)} of ${n(m.outage_events)}`],
    ['collector', 'POST /v1/events (JSON, 500 per request, 4 in flight)', rate('collector_events_per_s')],
    ['collector', 'SDK publish() (same batches, same concurrency)', rate('collector_sdk_events_per_s')],
    ['collector', 'collector / SDK events/s', x('collector_over_sdk')],
    ['collector', 'collector p50 / p99', `${ms('collector_p50_ms')} / ${ms('collector_p99_ms')}`],
    ['collector', 'SDK p50 / p99', `${ms('collector_sdk_p50_ms')} / ${ms('collector_sdk_p99_ms')}`],
    ['collector', 'collector p99 / SDK p99', x('collector_p99_over_sdk')],
  ];
  for (const s of SERVICES) {
    rows.push(['resources', `${s}: peak RSS / CPU`, `${n((m[`${s}_peak_rss_bytes`] ?? Number.NaN) / 2 ** 20)} MiB / ${n(m[`${s}_cpu_s`], 1)} s`]);
  }
  return rows;
}

/** Table rows of `--only query`: the five queries, then the write cost and disk use of the schema. */
export function queryTableRows(m: RunFigures): Array<[string, string, string]> {
  const all = tableRows(m).filter((r) => r[0] === 'query');
  const n = (v: number | undefined, digits = 0) =>
    v === undefined || !Number.isFinite(v) ? 'n/a' : v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  const mib = (k: string) => `${n((m[k] ?? Number.NaN) / 2 ** 20, 1)} MiB`;
  const rows: Array<[string, string, string]> = [
    ...all,
    [
      'console',
      'one-day search, first results in chromium p50 / p90',
      `${n(m.console_first_results_p50_ms, 1)} ms / ${n(m.console_first_results_p90_ms, 1)} ms`,
    ],
    ['console', 'its GET /v1/events p50 (resource timing)', `${n(m.console_events_request_p50_ms, 1)} ms`],
    ['load', 'rows stored (events + re-delivered copies)', n(m.load_rows)],
    ['load', 'INSERT … SELECT, full schema', `${n(m.load_insert_seconds, 1)} s (${n(m.load_rows_per_s)} rows/s)`],
    ['load', 'INSERT … SELECT, schema without 011/012/014', `${n(m.load_baseline_insert_seconds, 1)} s (${n(m.load_baseline_rows_per_s)} rows/s)`],
    ['load', 'insert time full / without 011/012/014', `${n(m.load_insert_cost_ratio, 2)}×`],
    ['disk', 'all tables, full schema / without 011/012/014', `${mib('disk_total_bytes')} / ${mib('disk_baseline_total_bytes')}`],
  ];
  for (const k of Object.keys(m)
    .filter((k) => /^disk_.+_bytes$/.test(k) && !/total/.test(k))
    .sort()) {
    rows.push(['disk', k.replace(/^disk_|_bytes$/g, ''), mib(k)]);
  }
  return rows;
}

/** Table rows of `--only ingest`: the drain, the limits, the Kafka-engine anchor, the ratios, ingest's CPU per event and the servers' resources. */
export function ingestTableRows(m: RunFigures): Array<[string, string, string]> {
  const all = tableRows(m);
  const cpu = m.ingest_cpu_us_per_event;
  return [
    ...all.filter((r) => r[0] === 'ingest' || r[0] === 'anchor'),
    ['ingest', 'ingest CPU per stored event (start included)', cpu === undefined || !Number.isFinite(cpu) ? 'n/a' : `${cpu.toFixed(1)} µs`],
    ...all.filter((r) => r[0] === 'memory'),
    ...all.filter((r) => r[0] === 'resources' && /^(ingest|clickhouse|kafka):/.test(r[1])),
  ];
}

/** Table rows of `--cluster`: events/s with 1 and 2 ingest and 1 and 3 alerting instances, the ratios, CPU and the load average at the end of each side. */
export function clusterTableRows(m: RunFigures): Array<[string, string, string]> {
  const n = (v: number | undefined, digits = 0) =>
    v === undefined || !Number.isFinite(v) ? 'n/a' : v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  const rate = (k: string) => `${n(m[k])} events/s`;
  const x = (k: string) => `${n(m[k], 2)}×`;
  const side = (svc: string, k: number) => `${rate(`cluster_${svc}_${k}_events_per_s`)} (load ${n(m[`cluster_${svc}_${k}_load1`], 1)})`;
  const cpu = (svc: string, a: number, b: number) => `${n(m[`cluster_${svc}_${a}_cpu_s`], 1)} s / ${n(m[`cluster_${svc}_${b}_cpu_s`], 1)} s`;
  return [
    ['backlog', 'SDK pre-production (RF 3, acks=all)', rate('cluster_preproduce_events_per_s')],
    ['ingest', '1 instance (spawn → all N stored)', side('ingest', 1)],
    ['ingest', '2 instances, one group', side('ingest', 2)],
    ['ingest', '2 / 1', x('cluster_ingest_2_over_1')],
    [
      'ingest',
      'steady (first stored → all N) 1 / 2 instances',
      `${rate('cluster_ingest_1_steady_events_per_s')} / ${rate('cluster_ingest_2_steady_events_per_s')}`,
    ],
    ['ingest', 'steady 2 / 1', x('cluster_ingest_steady_2_over_1')],
    ['ingest', 'CPU of the instances, 1 / 2', cpu('ingest', 1, 2)],
    ['alerting', '1 instance, repartition on (spawn → both groups at the end)', side('alerting', 1)],
    ['alerting', '3 instances, repartition on', side('alerting', 3)],
    ['alerting', '3 / 1', x('cluster_alerting_3_over_1')],
    [
      'alerting',
      'steady (first commit of the evaluating group → end) 1 / 3',
      `${rate('cluster_alerting_1_steady_events_per_s')} / ${rate('cluster_alerting_3_steady_events_per_s')}`,
    ],
    ['alerting', 'steady 3 / 1', x('cluster_alerting_steady_3_over_1')],
    ['alerting', 'incidents fired (the same on both sides)', n(m.cluster_alert_incidents)],
    ['alerting', 'CPU of the instances, 1 / 3', cpu('alerting', 1, 3)],
    ['load', '1-min load average at the run start', n(m.cluster_load1_start, 1)],
  ];
}

export function formatTable(report: BenchReport): string {
  const byMode = { query: queryTableRows, ingest: ingestTableRows, cluster: clusterTableRows } as const;
  const rows = (report.only ? byMode[report.only] : tableRows)(report.median);
  const w0 = Math.max(...rows.map((r) => r[0].length), 7);
  const w1 = Math.max(...rows.map((r) => r[1].length), 6);
  const m = report.machine;
  const head = [
    `auditstream bench: N = ${report.events.toLocaleString('en-US')} events, medians over ${report.runs} run(s), ${report.wall_seconds.toFixed(0)} s wall`,
    `machine: ${m.cpus} cores (${m.cpu_model}), ${(m.memory_bytes / 2 ** 30).toFixed(1)} GiB; Node ${m.node}; ClickHouse ${m.clickhouse_version}; Kafka ${m.kafka_version}`,
    '',
    `${'section'.padEnd(w0)}  ${'figure'.padEnd(w1)}  value`,
    `${'-'.repeat(w0)}  ${'-'.repeat(w1)}  ${'-'.repeat(24)}`,
  ];
  const tail = report.errors.length ? ['', `FAILED sections (their rows show n/a):`, ...report.errors.map((e) => `  ${e.split('\n')[0]}`)] : [];
  return [...head, ...rows.map(([a, b, c]) => `${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c}`), ...tail].join('\n');
}
