// `auditstream bench --cluster`: the scaling figures (sections/cluster.ts) on the replicated cluster
// of `stack up --cluster`, in a state dir of its own (--cluster-home, default
// <AUDITSTREAM_HOME>/bench-cluster: the dev stack's state dir holds a single-server stack) with its
// ports from stack.cluster_base_port. A cluster already up and healthy there is reused and left
// running; otherwise the bench starts it and stops it after the runs (unless --keep).
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { createClickHouse } from '@auditstream/clickhouse';
import { configSchema, loadConfig } from '@auditstream/config';
import { AuditstreamError, stateDir } from '@auditstream/core';
import type { Logger } from '@auditstream/observability';
import { createClusterStack } from '@auditstream/stack';
import { type AppConfig, createRunEnv } from './env.js';
import type { ServiceChild } from './procs.js';
import { type BenchReport, type MachineInfo, medians, type RunFigures, withScalingRatios } from './report.js';
import { runClusterRound } from './sections/cluster.js';

export interface ClusterBenchOptions {
  events: number;
  runs: number;
  partitions: number;
  keep: boolean;
  /** State dir of the cluster; default <AUDITSTREAM_HOME>/bench-cluster. */
  home?: string | undefined;
  command: string;
}

export interface ClusterBenchDeps {
  config: AppConfig;
  logger: Logger;
  log: (line: string) => void;
  /** What an interrupt must clean up now (undefined once nothing is left). */
  setCurrent: (c: { children: ServiceChild[]; cleanup: () => Promise<void> } | undefined) => void;
}

export async function runClusterBench(deps: ClusterBenchDeps, o: ClusterBenchOptions): Promise<BenchReport> {
  const { log } = deps;
  const t0 = Date.now();
  const home = o.home ?? join(stateDir(), 'bench-cluster');
  const stack = createClusterStack({
    stateDir: home,
    host: (deps.config.kafka.brokers[0] ?? '127.0.0.1').split(':')[0],
    basePort: deps.config.stack.cluster_base_port,
    startTimeoutMs: deps.config.stack.start_timeout_ms,
    stopGraceMs: deps.config.stack.stop_grace_ms,
    log: (m) => log(`stack: ${m}`),
  });
  log(`cluster in ${home}: reusing it if it is up, else starting it`);
  const up = await stack.up();
  let stopped = false;
  const stopStack = async () => {
    if (up.alreadyRunning || o.keep || stopped) return;
    stopped = true;
    log(`stopping the cluster this bench started (${home})`);
    await stack.down();
  };
  try {
    if (!up.components.every((c) => c.healthy))
      throw new AuditstreamError('BENCH_STACK', `the cluster in ${home} is not healthy: ${JSON.stringify(up.components)}`, {});
    // The services and the bench read the same settings: the configuration with the cluster's client env on top.
    const config = loadConfig(configSchema, { file: process.env.AUDITSTREAM_CONFIG, env: { ...process.env, ...up.clientEnv } });
    const cluster = config.clickhouse.cluster;
    if (!cluster) throw new AuditstreamError('BENCH_STACK', 'the cluster client env did not set clickhouse.cluster', {});
    const version = (name: string) => up.components.find((c) => c.name === name)?.version ?? 'unknown';
    const machine: MachineInfo = {
      cpus: cpus().length,
      cpu_model: cpus()[0]?.model ?? 'unknown',
      memory_bytes: totalmem(),
      node: process.versions.node,
      clickhouse_version: `${version('clickhouse-s1r1')} (2 shards × 2 replicas)`,
      kafka_version: `${version('kafka-1')} (3 brokers)`,
    };
    const perRun: RunFigures[] = [];
    const errors: string[] = [];
    for (let i = 0; i < o.runs; i++) {
      log(`run ${i + 1}/${o.runs}: ${o.events} events; ingest 1 vs 2 instances, alerting 1 vs 3 (order ${i % 2 ? 'reversed' : 'as listed'})`);
      const children: ServiceChild[] = [];
      const env = await createRunEnv({ config, logger: deps.logger, partitions: o.partitions, databases: false });
      Object.assign(env.serviceEnv, up.clientEnv);
      const cleanup = async () => {
        for (const c of children) await c.stop(10_000);
        await env.cleanup(o.keep);
        await stopStack();
      };
      deps.setCurrent({ children, cleanup });
      const figures: RunFigures = {};
      try {
        await runClusterRound(
          env,
          {
            events: o.events,
            index: i,
            cluster,
            partitions: o.partitions,
            replicationFactor: config.topics.replication_factor,
            clickhouse: (database) =>
              createClickHouse({ ...config.clickhouse, database, request_timeout_ms: 600_000 }, { logger: deps.logger, component: 'bench-clickhouse' }),
            pollMs: 200,
            timeoutMs: Math.max(600_000, o.events * 2),
            log,
            track: (c) => children.push(c),
          },
          figures,
        );
      } catch (err) {
        // What passed before the failure stays in the report; the failed side's rows show n/a.
        const msg = err instanceof Error ? err.message : String(err);
        errors.push(`run ${i + 1} cluster: ${msg}`);
        log(`run ${i + 1}/${o.runs}: cluster FAILED: ${msg}`);
      } finally {
        perRun.push(withScalingRatios(figures));
        for (const c of children) await c.stop(10_000);
        await env.cleanup(o.keep);
        deps.setCurrent({ children: [], cleanup: stopStack });
      }
    }
    return {
      at: new Date(t0).toISOString(),
      command: o.command,
      events: o.events,
      runs: o.runs,
      only: 'cluster',
      machine,
      median: medians(perRun),
      per_run: perRun,
      notes: {
        cluster: `${home}: ${up.alreadyRunning ? 'reused (left running)' : `started by this bench${o.keep ? ' (kept)' : ', stopped afterwards'}`}`,
        cluster_ingest_k_events_per_s: 'N / (k ingest children spawned at once, one group → uniqExact(event_id) = N), fresh Distributed database per side',
        cluster_alerting_k_events_per_s:
          'N / (k alerting children spawned at once, repartition on → the stage group and then the evaluating group committed the end of their topics)',
        ratios: 'within each run (side by side, order alternating between runs), then the median over runs',
        checks:
          'ingest: N distinct ids and N rows after FINAL per side; alerting: no alert delivered twice, and the same incidents (event_loss and silent_producer aside) with 1 and 3',
        load1_at_finish: `${loadavg()[0]?.toFixed(1)}`,
      },
      errors,
      wall_seconds: (Date.now() - t0) / 1000,
    };
  } finally {
    await stopStack();
    deps.setCurrent(undefined);
  }
}
