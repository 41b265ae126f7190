import { createBench } from '@auditstream/bench';
import { AuditstreamError } from '@auditstream/core';
import { createLogger } from '@auditstream/observability';
import { createStack } from '@auditstream/stack';
import { type Command, intOption, parseOptions } from '../command.js';
import { cliConfig, configOption } from '../config.js';

const help = `Usage: auditstream bench [--events N] [--runs R] [--out file.json] [--profile <dir>] [--keep]
       auditstream bench --cluster [--cluster-home <dir>] [--events N] [--runs R] [--out file.json]

Benchmarks the pipeline on the local stack (\`auditstream stack up\`) and prints one table (medians
over the runs; every run on its own topics and ClickHouse databases, dropped afterwards):
  producer   SDK publish() vs raw kafkajs sendBatch of the same bytes; publish() p50/p99
  ingest     N pre-produced events through \`auditstream ingest\` until all are queryable, against
             the Kafka read limit (raw consumer) and the ClickHouse write limit (clickhouse-client)
  anchor     the same rows through ClickHouse's Kafka table engine + materialized view
  latency    publish → queryable p50/p95/p99 at --load × the measured ingest rate
  alerting   publish → alert p50/p99 (default rules, brute force) under that background load
  query      the standard investigation queries through the Query API, p50/p99
  collector  POST /v1/events (the HTTP collector, an \`auditstream api\` child) against SDK publish(),
             same batches and concurrency: events/s and p50/p99 per event, and their ratios
  resources  peak RSS and CPU seconds of ingest, alerting, api, ClickHouse, Kafka and the bench
See docs/benchmarks.md for the method and the latest results.

Options:
  --events N            events of the ingest, limits, anchor and query sections (default 1000000)
  --runs R              runs; figures are medians (default 3)
  --out <file>          also write the report as JSON
  --profile <dir>       CPU-profile the ingest child during the first run's drain (node --cpu-prof)
                        and print its self time by pipeline stage, function and package
  --keep                keep each run's topics and databases
  --load F              offered load of latency/alerting, fraction of the ingest rate (default 0.2)
  --latency-seconds S   duration of the latency section (default 20)
  --alert-seconds S     duration of the alerting section (default 20)
  --query-reps N        repetitions of each query (default 20)
  --producer-events N   events per side of the producer and collector sections (default min(events, 200000))
  --partitions N        partitions of the bench topics (default topics.partitions)
  --outage-seconds S    after the drain, a second backlog of N drained by a fresh ingest child with
                        the local ClickHouse paused (SIGSTOP) for S seconds once a third is stored:
                        that child's peak RSS against ingest.memory_budget_bytes (default 0: off)
  --only query          only the query figures: N events loaded straight into ClickHouse (INSERT …
                        SELECT, one day of one tenant, 0.1 % re-delivered copies), the five queries,
                        and the insert time and disk use with and without migrations 011 and 014
  --only ingest         only the ingest drain, the Kafka read and ClickHouse write limits and the
                        Kafka-engine anchor (ratios side by side), plus ingest's CPU µs per event
  --cluster             only the scaling figures, on \`stack up --cluster\` (ZooKeeper, 3 brokers,
                        ClickHouse 2 shards x 2 replicas): N events drained by 1 and by 2 ingest
                        instances (one group) and evaluated by 1 and by 3 alerting instances
                        (alerting.repartition), events/s and the ratios 2/1 and 3/1 within each
                        run (order alternating), each side checked exactly once. A cluster up in
                        --cluster-home is reused and left running; else it is started there (ports
                        from stack.cluster_base_port) and stopped afterwards (unless --keep)
  --cluster-home <dir>  state dir of that cluster (default $AUDITSTREAM_HOME/bench-cluster)
  --config <file>       config file (brokers, ClickHouse URL and account, ports)`;

function numberOption(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new AuditstreamError('USAGE', `--${name} must be a number, got "${value}"`, { field: name });
  return n;
}

export const command: Command = {
  name: 'bench',
  summary: 'benchmark throughput, latency and resources against the limits and the ClickHouse Kafka engine',
  help,
  async run(argv) {
    const { values, positionals } = parseOptions(argv, {
      ...configOption,
      events: { type: 'string' },
      runs: { type: 'string' },
      out: { type: 'string' },
      profile: { type: 'string' },
      keep: { type: 'boolean' },
      load: { type: 'string' },
      'latency-seconds': { type: 'string' },
      'alert-seconds': { type: 'string' },
      'query-reps': { type: 'string' },
      'producer-events': { type: 'string' },
      partitions: { type: 'string' },
      'outage-seconds': { type: 'string' },
      only: { type: 'string' },
      cluster: { type: 'boolean' },
      'cluster-home': { type: 'string' },
    });
    if (values.cluster && values.only !== undefined) throw new AuditstreamError('USAGE', '--cluster cannot be combined with --only', { field: 'cluster' });
    if (values['cluster-home'] !== undefined && !values.cluster)
      throw new AuditstreamError('USAGE', '--cluster-home needs --cluster', { field: 'cluster-home' });
    if (values.only !== undefined && values.only !== 'query' && values.only !== 'ingest')
      throw new AuditstreamError('USAGE', `--only must be "query" or "ingest", got "${values.only}"`, { field: 'only' });
    if (positionals.length) throw new AuditstreamError('USAGE', `unexpected argument "${positionals[0]}"`, { field: 'argument' });
    const cfg = cliConfig(values.config);
    if (values.config) process.env.AUDITSTREAM_CONFIG = values.config; // the service children read the same file
    const events = intOption(values.events, 'events', 1_000_000);
    const logger = createLogger({ service: 'bench', level: cfg.log.level === 'info' ? 'error' : cfg.log.level });
    // --cluster starts or reuses its own cluster; the dev stack is not needed then.
    const stack = createStack({
      kafkaPort: Number((cfg.kafka.brokers[0] ?? '127.0.0.1:9092').split(':')[1]),
      kafkaControllerPort: cfg.stack.kafka_controller_port,
      clickhouseHttpPort: Number(new URL(cfg.clickhouse.url).port || 8123),
      clickhouseTcpPort: cfg.stack.clickhouse_tcp_port,
    });
    const bench = createBench({ config: cfg, logger, stackStatus: () => stack.status(), log: (line) => console.error(line) });
    // Ctrl-C or SIGTERM: stop the service children and drop the run's topics and databases first.
    const onSignal = (sig: NodeJS.Signals) => {
      console.error(`auditstream bench: ${sig}, stopping the services and dropping this run's topics and databases`);
      void bench.interrupt().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const { table, report } = await bench.run({
      events,
      runs: intOption(values.runs, 'runs', 3),
      out: values.out,
      profile: values.profile,
      keep: values.keep ?? false,
      load_fraction: numberOption(values.load, 'load', 0.2),
      latency_seconds: numberOption(values['latency-seconds'], 'latency-seconds', 20),
      alert_seconds: numberOption(values['alert-seconds'], 'alert-seconds', 20),
      query_reps: intOption(values['query-reps'], 'query-reps', 20),
      producer_events: intOption(values['producer-events'], 'producer-events', Math.min(events, 200_000)),
      partitions: intOption(values.partitions, 'partitions', cfg.topics.partitions),
      outage_seconds: numberOption(values['outage-seconds'], 'outage-seconds', 0),
      only: values.cluster ? 'cluster' : values.only === 'query' || values.only === 'ingest' ? values.only : undefined,
      cluster_home: values['cluster-home'],
      command: `auditstream bench ${argv.join(' ')}`.trim(),
    });
    console.log(table);
    return report.errors.length ? 1 : 0;
  },
};
