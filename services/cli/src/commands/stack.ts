import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuditstreamError, stateDir } from '@auditstream/core';
import { createClusterStack, createStack, formatStatus, isClusterState } from '@auditstream/stack';
import { type Command, parseOptions } from '../command.js';
import { cliConfig, configOption } from '../config.js';

const help = `Usage: auditstream stack <up|down|status> [options]

Runs a real single-node Kafka (KRaft) and a real ClickHouse on loopback, without Docker.
Data, logs and pid files live under .auditstream/ at the repo root (AUDITSTREAM_HOME overrides).

  up       start Kafka (127.0.0.1:9092) and ClickHouse (127.0.0.1:8123 HTTP, 9000 native);
           waits until both answer. A second \`up\` is a no-op that says so.
           --with-registry also starts Apicurio Registry (Confluent-compatible API at
           http://127.0.0.1:8081/apis/ccompat/v7), fetched from Maven Central.
           --secure creates a local CA and certificates (openssl) and generated passwords
           under <state>/tls and <state>/secrets (0600), then runs Kafka with only a
           SASL_SSL listener (SCRAM-SHA-512; the controller listener needs a client
           certificate) and ClickHouse with only HTTPS (no HTTP, no native TCP port).
           Prints the AUDITSTREAM_* variables clients need (also in <state>/client.env).
           Use its own AUDITSTREAM_HOME and ports: it coexists with the dev stack.
           down/status follow the mode recorded in the state dir.
           --cluster runs ZooKeeper, three KRaft brokers (replication factor 3,
           min.insync.replicas=2) and ClickHouse as 2 shards x 2 replicas (cluster
           "auditstream": Replicated tables, distributed DDL), every process with its own
           ports (from stack.cluster_base_port, default 31000) and data dir. Prints the
           AUDITSTREAM_* variables clients need (also in <state>/client.env). Use its
           own AUDITSTREAM_HOME; down/status follow the mode recorded there. docs/scaling.md.
  down     stop what \`up\` started: SIGTERM, then SIGKILL after the grace period.
  status   each process, its pid, ports, health, version and log file.

Options:
  --config <file>   config file; ports come from kafka.brokers[0], clickhouse.url,
                    stack.kafka_controller_port and stack.clickhouse_tcp_port
  --secure          (up) the TLS + SASL stack described above
  --cluster         (up) the replicated cluster described above

Environment: KAFKA_HOME (use an unpacked Kafka distribution instead of Maven jars),
AUDITSTREAM_KAFKA_HEAP (JVM heap flags, default "-Xms256m -Xmx1g").`;

export const command: Command = {
  name: 'stack',
  summary: 'start, stop or inspect the local Kafka + ClickHouse stack',
  help,
  async run(argv) {
    const { values, positionals } = parseOptions(argv, {
      ...configOption,
      'with-registry': { type: 'boolean' },
      secure: { type: 'boolean' },
      cluster: { type: 'boolean' },
    });
    const sub = positionals[0];
    const secure = values.secure === true;
    // The cluster is chosen by --cluster on up, and by the mode recorded in the state dir after.
    const cluster = values.cluster === true || isClusterState(stateDir());
    if (cluster && (secure || values['with-registry'] === true))
      throw new AuditstreamError('USAGE', '--cluster cannot be combined with --secure or --with-registry', { field: 'cluster' });
    const log = (m: string) => console.error(`stack: ${m}`);
    const stack = cluster
      ? createClusterStack(clusterOptionsFromConfig(cliConfig(values.config), log))
      : createStack({
          ...stackOptionsFromConfig(cliConfig(values.config), true),
          withRegistry: values['with-registry'] === true,
          secure,
          log,
        });
    switch (sub) {
      case 'up': {
        if (!cluster && !stack.secure() && cliConfig(values.config).clickhouse.url.startsWith('https:'))
          throw new AuditstreamError('USAGE', 'the plaintext local stack serves ClickHouse over http; use http:// in clickhouse.url, or `stack up --secure`', {
            field: 'clickhouse.url',
          });
        const res = await stack.up();
        console.log(res.alreadyRunning ? 'The stack is already running; nothing to do.' : `Started: ${res.started.join(', ')}.`);
        console.log(formatStatus(res.components));
        if (res.clientEnv) {
          const lines = Object.entries(res.clientEnv).map(([k, v]) => `${k}=${v}`);
          const file = join(stateDir(), 'client.env');
          writeFileSync(file, `${lines.join('\n')}\n`, { mode: 0o600 });
          console.log(
            cluster
              ? `\nCluster: clients need these settings (also in ${file}):`
              : `\nSecure stack: clients need these settings (passwords stay in their files; also in ${file}):`,
          );
          for (const l of lines) console.log(`export ${l}`);
          if (!cluster)
            console.log(
              `ClickHouse accounts: auditstream_ingest / auditstream_reader / auditstream_admin, passwords in ${join(stateDir(), 'secrets')}/clickhouse-<role>.password`,
            );
        }
        return 0;
      }
      case 'down': {
        for (const r of await stack.down()) console.log(`${r.name}: ${r.result}`);
        return 0;
      }
      case 'status': {
        const st = await stack.status();
        console.log(formatStatus(st));
        return st.every((s) => s.healthy) ? 0 : 1;
      }
      default:
        console.error(sub ? `unknown subcommand "${sub}"\n\n${help}` : help);
        return 2;
    }
  },
};

/** The cluster's host is the one of kafka.brokers[0]; its ports all come from stack.cluster_base_port. */
export function clusterOptionsFromConfig(cfg: ReturnType<typeof cliConfig>, log: (m: string) => void) {
  return {
    host: (cfg.kafka.brokers[0] as string).split(':')[0] as string,
    basePort: cfg.stack.cluster_base_port,
    startTimeoutMs: cfg.stack.start_timeout_ms,
    stopGraceMs: cfg.stack.stop_grace_ms,
    log,
  };
}

/** The stack listens where the services will connect: the first broker and the ClickHouse URL. */
export function stackOptionsFromConfig(cfg: ReturnType<typeof cliConfig>, allowHttps = false) {
  const [host, port] = (cfg.kafka.brokers[0] as string).split(':');
  const ch = new URL(cfg.clickhouse.url);
  // The secure stack serves https on the port of clickhouse.url; down/status accept either scheme.
  if (ch.protocol !== 'http:' && ch.protocol !== 'https:')
    throw new AuditstreamError('USAGE', 'clickhouse.url must start with http:// or https://', { field: 'clickhouse.url' });
  if (ch.protocol === 'https:' && !allowHttps)
    throw new AuditstreamError('USAGE', 'the local stack serves ClickHouse over http; clickhouse.url must start with http://', { field: 'clickhouse.url' });
  if (host !== ch.hostname)
    throw new AuditstreamError('USAGE', `the local stack binds one host; kafka.brokers[0] (${host}) and clickhouse.url (${ch.hostname}) differ`, {
      field: 'kafka.brokers',
    });
  return {
    host: host as string,
    kafkaPort: Number(port),
    kafkaControllerPort: cfg.stack.kafka_controller_port,
    clickhouseHttpPort: Number(ch.port || (ch.protocol === 'https:' ? 8443 : 8123)),
    clickhouseTcpPort: cfg.stack.clickhouse_tcp_port,
    registryPort: cfg.stack.registry_port,
    startTimeoutMs: cfg.stack.start_timeout_ms,
    stopGraceMs: cfg.stack.stop_grace_ms,
  };
}
