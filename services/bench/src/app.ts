// `auditstream bench`: one run = every section on fresh topics and databases; the report holds
// medians over runs. Services run as children through the CLI so their resources are their own.
import { accessSync, constants, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fetchWaitMs } from '@auditstream/config';
import { AuditstreamError } from '@auditstream/core';
import { formatCpuProfileSummary, type Logger } from '@auditstream/observability';
import type { ComponentStatus } from '@auditstream/stack';
import { runClusterBench } from './cluster-bench.js';
import { type AppConfig, createRunEnv } from './env.js';
import { type ProcWatch, readProc, type ServiceChild, spawnService, watchProc } from './procs.js';
import { summarizeIngestProfile } from './profile.js';
import { runQueryOnly } from './query-bench.js';
import { type BenchReport, formatTable, type MachineInfo, medians, type RunFigures, withRatios } from './report.js';
import { runAlerting } from './sections/alerting.js';
import { runAnchor } from './sections/anchor.js';
import { runCollector } from './sections/collector.js';
import { runIngestSection } from './sections/ingest.js';
import { ALT_FETCH_WAIT_MS, altWaitFigures, metricsUrlFromLog, runLatency } from './sections/latency.js';
import { clickhouseWriteLimit, exportRows, kafkaReadLimit } from './sections/limits.js';
import { runOutage } from './sections/outage.js';
import { runProducer } from './sections/producer.js';
import { runQueries } from './sections/query.js';

export interface BenchOptions {
  /** Events of the ingest, limits, anchor and query sections. */
  events: number;
  runs: number;
  out?: string | undefined;
  /** Directory for the ingest child's CPU profile (first run). */
  profile?: string | undefined;
  /** Keep the topics and databases of each run. */
  keep: boolean;
  /** Offered load of the latency and alerting sections, as a fraction of the measured ingest rate. */
  load_fraction: number;
  latency_seconds: number;
  alert_seconds: number;
  query_reps: number;
  /** Events per side of the producer and collector sections (default min(events, 200000)). */
  producer_events: number;
  /** Seconds ClickHouse is paused in the outage section (0: no outage section). */
  outage_seconds: number;
  partitions: number;
  /**
   * `query`: only the query figures, over events loaded straight into ClickHouse (query-bench.ts).
   * `ingest`: only the ingest drain, the two limits and the Kafka-engine anchor (each ratio side by side).
   * `cluster` (`--cluster`): the scaling figures on `stack up --cluster` (cluster-bench.ts).
   */
  only?: 'query' | 'ingest' | 'cluster' | undefined;
  /** `--cluster`: the cluster's state dir (default <AUDITSTREAM_HOME>/bench-cluster). */
  cluster_home?: string | undefined;
  /** The command line, recorded in the report. */
  command: string;
}

export interface BenchDeps {
  config: AppConfig;
  logger: Logger;
  /** The local stack's processes (pids and versions of ClickHouse and Kafka). */
  stackStatus: () => Promise<ComponentStatus[]>;
  /** Progress lines (stderr in the CLI). */
  log: (line: string) => void;
}

export interface Bench {
  run(options: BenchOptions): Promise<{ report: BenchReport; table: string }>;
  /** Stops the running run's service children and drops its topics and databases (unless --keep): for SIGINT/SIGTERM. */
  interrupt(): Promise<void>;
}

function check(o: BenchOptions): void {
  const int = (name: string, v: number, min: number) => {
    if (!Number.isInteger(v) || v < min) throw new AuditstreamError('USAGE', `--${name} must be an integer ≥ ${min}, got ${v}`, { field: name });
  };
  int('events', o.events, 1000);
  int('runs', o.runs, 1);
  int('query-reps', o.query_reps, 1);
  int('producer-events', o.producer_events, 1000);
  int('partitions', o.partitions, 1);
  if (!(o.outage_seconds >= 0)) throw new AuditstreamError('USAGE', `--outage-seconds must be ≥ 0, got ${o.outage_seconds}`, { field: 'outage-seconds' });
  if (!(o.load_fraction > 0 && o.load_fraction <= 1))
    throw new AuditstreamError('USAGE', `--load must be in (0, 1], got ${o.load_fraction}`, { field: 'load' });
  if (!(o.latency_seconds > 0)) throw new AuditstreamError('USAGE', `--latency-seconds must be > 0, got ${o.latency_seconds}`, { field: 'latency-seconds' });
  if (!(o.alert_seconds > 0)) throw new AuditstreamError('USAGE', `--alert-seconds must be > 0, got ${o.alert_seconds}`, { field: 'alert-seconds' });
  // Fail now, not after a long run, when the report cannot be written.
  if (o.out !== undefined) {
    try {
      accessSync(dirname(resolve(o.out)), constants.W_OK);
    } catch (cause) {
      throw new AuditstreamError('USAGE', `--out: cannot write to the directory of ${o.out}`, { field: 'out', cause });
    }
  }
  if (o.profile !== undefined) {
    try {
      mkdirSync(o.profile, { recursive: true });
      accessSync(o.profile, constants.W_OK);
    } catch (cause) {
      throw new AuditstreamError('USAGE', `--profile: cannot create or write the directory ${o.profile}`, { field: 'profile', cause });
    }
  }
}

/** The JSON report (non-finite figures as null), when --out was given. */
function writeReport(out: string | undefined, report: BenchReport): void {
  if (out) writeFileSync(out, `${JSON.stringify(report, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
}

export function createBench(deps: BenchDeps): Bench {
  const { config, log } = deps;
  // The run in progress, so an interrupt can clean up what the run's finally would have.
  let current: { children: ServiceChild[]; cleanup: () => Promise<void> } | undefined;

  async function oneRun(o: BenchOptions, index: number, servers: ComponentStatus[], errors: string[]): Promise<{ figures: RunFigures; profile?: unknown }> {
    const figures: RunFigures = {};
    const serverWatch = new Map<string, ProcWatch>();
    for (const s of servers) if (s.pid && (s.name === 'clickhouse' || s.name === 'kafka')) serverWatch.set(s.name, watchProc(s.pid, { lifetime: false }));
    const cpu0 = process.cpuUsage();
    const children: ServiceChild[] = [];
    const env = await createRunEnv({ config, logger: deps.logger, partitions: o.partitions });
    let cleaned: Promise<void> | undefined;
    const cleanup = () => {
      cleaned ??= (async () => {
        for (const c of children) await c.stop(10_000);
        await env.cleanup(o.keep);
      })();
      return cleaned;
    };
    current = { children, cleanup };
    const timeout = Math.max(600_000, o.events * 2); // generous: 2 ms per event, at least 10 min
    let profile: unknown;
    // A failed section is recorded (its rows print n/a and the command exits 1); the others still run.
    const section = async (name: string, fn: () => Promise<void>) => {
      try {
        await fn();
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        errors.push(`run ${index + 1} ${name}: ${msg}`);
        log(`run ${index + 1}/${o.runs}: ${name} FAILED: ${msg}`);
      }
    };
    try {
      if (o.only === 'query') {
        await section('query', async () => {
          log(`run ${index + 1}/${o.runs}: query figures over ${o.events} events loaded straight into ClickHouse`);
          Object.assign(figures, await runQueryOnly(env, { events: o.events, reps: o.query_reps, track: (c) => children.push(c), log }));
        });
      } else {
        const full = o.only !== 'ingest';
        if (full)
          await section('producer', async () => {
            log(`run ${index + 1}/${o.runs}: producer (${o.producer_events} events per side)`);
            const r = await runProducer({
              brokers: [...config.kafka.brokers],
              events: o.producer_events,
              rate: 2000,
              pacedSeconds: 5,
              partitions: o.partitions,
            });
            Object.assign(figures, r);
          });

        log(`run ${index + 1}/${o.runs}: ingest of ${o.events} pre-produced events`);
        const profiling = o.profile !== undefined && index === 0;
        const fromMs = Date.now();
        const ing = await runIngestSection(env, {
          events: o.events,
          pollMs: 100,
          timeoutMs: timeout,
          nodeArgs: profiling ? ['--cpu-prof', `--cpu-prof-dir=${o.profile}`] : [],
          log,
        });
        Object.assign(figures, ing.result, ing.stages);
        // VmHWM now: the drain's peak alone (the resources row also covers the later sections).
        figures.ingest_drain_peak_rss_bytes = ing.child.usage().peak_rss_bytes;
        let ingest = ing.child;
        children.push(ingest);
        if (!full) {
          // The child did nothing but the drain (and its start): its CPU per stored event.
          await ingest.stop();
          figures.ingest_cpu_us_per_event = (ingest.usage().cpu_s * 1e6) / o.events;
        }
        if (profiling) {
          // The profile is written when the child exits: stop it after the drain so the profile covers
          // the throughput run only, and start a plain one for the latency and alerting sections.
          await ingest.stop();
          const p = summarizeIngestProfile(o.profile as string);
          if (p) {
            profile = { file: p.file, ...p.summary };
            log(formatCpuProfileSummary(p.summary, `ingest CPU profile (${p.file})`));
          } else log(`no .cpuprofile was written to ${o.profile}`);
          if (full) {
            ingest = spawnService('ingest', env.serviceEnv);
            children.push(ingest);
            await ingest.waitForLog(/serving \/metrics/, 120_000);
          }
        }

        const rate = Math.max(10, Math.round(o.load_fraction * ing.result.ingest_events_per_s));
        const track = (c: ServiceChild) => children.push(c);
        if (full) {
          await section('latency', async () => {
            log(`run ${index + 1}/${o.runs}: publish → queryable latency at ${rate} events/s for ${o.latency_seconds} s`);
            Object.assign(
              figures,
              await runLatency(env, { rate, seconds: o.latency_seconds, pollMs: 50, settleMs: 30_000, ingestMetricsUrl: metricsUrlFromLog(ingest.output()) }),
              { latency_fetch_wait_ms: fetchWaitMs(config.ingest) },
            );
          });
          await section('alerting', async () => {
            log(`run ${index + 1}/${o.runs}: publish → alert latency`);
            const al = await runAlerting(env, { rate, seconds: o.alert_seconds, probeEveryMs: 500, settleMs: 10_000, startTimeoutMs: 120_000, log, track });
            Object.assign(figures, al.result);
            await al.child.stop();
          });
          await section('latency_wait1000', async () => {
            // The same offered load with ingest's fetches waiting up to 1 s: what fewer, larger INSERTs cost in latency.
            await ingest.stop();
            ingest = spawnService('ingest', { ...env.serviceEnv, AUDITSTREAM_INGEST__FETCH_MAX_WAIT_MS: String(ALT_FETCH_WAIT_MS) });
            children.push(ingest);
            await ingest.waitForLog(/serving \/metrics/, 120_000);
            log(`run ${index + 1}/${o.runs}: publish → queryable latency with fetch_max_wait_ms ${ALT_FETCH_WAIT_MS}`);
            const r = await runLatency(env, {
              rate,
              seconds: o.latency_seconds,
              pollMs: 50,
              settleMs: 30_000,
              ingestMetricsUrl: metricsUrlFromLog(ingest.output()),
            });
            Object.assign(figures, altWaitFigures(r));
          });
        }
        await ingest.stop();
        if (o.outage_seconds > 0)
          await section('outage', async () => {
            const clickhousePid = servers.find((s) => s.name === 'clickhouse')?.pid;
            if (!clickhousePid) throw new AuditstreamError('BENCH_STACK', 'the local stack reports no ClickHouse pid to pause', { field: 'stack' });
            log(`run ${index + 1}/${o.runs}: ingest of a second backlog of ${o.events} events through a ${o.outage_seconds} s ClickHouse pause`);
            Object.assign(
              figures,
              await runOutage(env, {
                events: o.events,
                seconds: o.outage_seconds,
                clickhousePid,
                memoryBudgetBytes: config.ingest.memory_budget_bytes,
                timeoutMs: timeout,
                pollMs: 100,
                log,
                track,
              }),
            );
          });

        log(`run ${index + 1}/${o.runs}: Kafka read limit`);
        Object.assign(figures, await kafkaReadLimit(env, config, o.events, timeout));
        log(`run ${index + 1}/${o.runs}: ClickHouse write limit`);
        const rowsFile = await exportRows(env, config);
        Object.assign(figures, await clickhouseWriteLimit(env, config, rowsFile, o.events));
        await section('anchor', async () => {
          log(`run ${index + 1}/${o.runs}: anchor (ClickHouse Kafka engine)`);
          const anchor = await runAnchor(env, config, { rowsFile, events: o.events, partitions: o.partitions, pollMs: 100, timeoutMs: timeout });
          figures.anchor_events_per_s = anchor.anchor_events_per_s;
          figures.anchor_seconds = anchor.anchor_seconds;
        });
        if (full) {
          await section('query', async () => {
            log(`run ${index + 1}/${o.runs}: queries through the API (${o.query_reps} repetitions each)`);
            const q = await runQueries(env, { reps: o.query_reps, fromMs, toMs: Date.now(), startTimeoutMs: 120_000, track });
            Object.assign(figures, q.result);
            await q.child.stop();
          });
          await section('collector', async () => {
            log(`run ${index + 1}/${o.runs}: collector (POST /v1/events) vs SDK, ${o.producer_events} events per side`);
            const c = await runCollector(env, { events: o.producer_events, batch: 500, concurrency: 4, startTimeoutMs: 120_000, track });
            Object.assign(figures, c.result);
            await c.child.stop();
          });
        }
      }
    } finally {
      await cleanup();
      current = undefined;
    }
    // Resources: per service over the run (several children of one service add up: CPU sums, RSS max).
    for (const name of ['ingest', 'alerting', 'api'] as const) {
      const own = children.filter((c) => c.name === name).map((c) => c.usage());
      figures[`${name}_peak_rss_bytes`] = Math.max(0, ...own.map((u) => u.peak_rss_bytes));
      figures[`${name}_cpu_s`] = own.reduce((s, u) => s + u.cpu_s, 0);
    }
    for (const [name, w] of serverWatch) {
      const u = w.read();
      w.stop();
      figures[`${name}_peak_rss_bytes`] = u.peak_rss_bytes;
      figures[`${name}_cpu_s`] = u.cpu_s;
    }
    const cpu = process.cpuUsage(cpu0);
    figures.bench_cpu_s = (cpu.user + cpu.system) / 1e6;
    figures.bench_peak_rss_bytes = readProc(process.pid)?.hwm ?? Number.NaN;
    return { figures, profile };
  }

  return {
    async interrupt() {
      await current?.cleanup();
    },
    async run(o) {
      check(o);
      if (o.only === 'cluster') {
        const report = await runClusterBench(
          {
            config,
            logger: deps.logger,
            log,
            setCurrent: (c) => {
              current = c;
            },
          },
          { events: o.events, runs: o.runs, partitions: o.partitions, keep: o.keep, home: o.cluster_home, command: o.command },
        );
        writeReport(o.out, report);
        return { report, table: formatTable(report) };
      }
      const t0 = Date.now();
      const servers = await deps.stackStatus();
      const ch = servers.find((s) => s.name === 'clickhouse');
      const kafka = servers.find((s) => s.name === 'kafka');
      if (!ch?.healthy || !kafka?.healthy) {
        throw new AuditstreamError('BENCH_STACK', 'the local stack is not running and healthy: start it with `auditstream stack up`', { field: 'stack' });
      }
      const machine: MachineInfo = {
        cpus: cpus().length,
        cpu_model: cpus()[0]?.model ?? 'unknown',
        memory_bytes: totalmem(),
        node: process.versions.node,
        clickhouse_version: ch.version ?? 'unknown',
        kafka_version: kafka.version ?? 'unknown',
      };
      const perRun: RunFigures[] = [];
      let profile: unknown;
      const errors: string[] = [];
      for (let i = 0; i < o.runs; i++) {
        const r = await oneRun(o, i, servers, errors);
        perRun.push(withRatios(r.figures));
        profile ??= r.profile;
      }
      const report: BenchReport = {
        at: new Date(t0).toISOString(),
        command: o.command,
        events: o.events,
        runs: o.runs,
        ...(o.only ? { only: o.only } : {}),
        machine,
        median: medians(perRun),
        per_run: perRun,
        notes: {
          ingest_events_per_s:
            'N / (ingest child spawned → the project count query finds N; polled on the parts row count, exact once those reach N); events pre-produced through the SDK',
          kafka_read_events_per_s:
            'raw kafkajs consumer, fresh group, ingest fetch settings, eachBatch discard; steady rate from the first batch to the N-th message (kafka_read_cold_events_per_s: from consumer creation, group join included)',
          clickhouse_write_events_per_s:
            'the rows ingest stored, a file in the format ingest inserts with (clickhouse.insert_format: RowBinary by default) → clickhouse-client INSERT into an identically migrated empty database',
          anchor_events_per_s:
            'ClickHouse Kafka engine (JSONEachRow, same rows, second topic, group offsets committed at 0) + MV into an identically migrated database; CREATE MATERIALIZED VIEW → uniqExact(event_id) = N',
          ratios: 'ingest_over_min_limit and ingest_over_anchor are computed within each run (side by side), then the median over runs is taken',
        },
        errors,
        ...(profile ? { profile } : {}),
        wall_seconds: (Date.now() - t0) / 1000,
      };
      const table = formatTable(report);
      writeReport(o.out, report);
      return { report, table };
    },
  };
}
