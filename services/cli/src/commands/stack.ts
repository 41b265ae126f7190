import { AuditstreamError } from '@auditstream/core';
import { createStack, formatStatus } from '@auditstream/stack';
import { type Command, parseOptions } from '../command.js';
import { cliConfig, configOption } from '../config.js';

const help = `Usage: auditstream stack <up|down|status> [options]

Runs a real single-node Kafka (KRaft) and a real ClickHouse on loopback, without Docker.
Data, logs and pid files live under .auditstream/ at the repo root (AUDITSTREAM_HOME overrides).

  up       start Kafka (127.0.0.1:9092) and ClickHouse (127.0.0.1:8123 HTTP, 9000 native);
           waits until both answer. A second \`up\` is a no-op that says so.
           --with-registry also starts Apicurio Registry (Confluent-compatible API at
           http://127.0.0.1:8081/apis/ccompat/v7), fetched from Maven Central.
  down     stop what \`up\` started: SIGTERM, then SIGKILL after the grace period.
  status   each process, its pid, ports, health, version and log file.

Options:
  --config <file>   config file; ports come from kafka.brokers[0], clickhouse.url,
                    stack.kafka_controller_port and stack.clickhouse_tcp_port

Environment: KAFKA_HOME (use an unpacked Kafka distribution instead of Maven jars),
AUDITSTREAM_KAFKA_HEAP (JVM heap flags, default "-Xms256m -Xmx1g").`;

export const command: Command = {
  name: 'stack',
  summary: 'start, stop or inspect the local Kafka + ClickHouse stack',
  help,
  async run(argv) {
    const { values, positionals } = parseOptions(argv, { ...configOption, 'with-registry': { type: 'boolean' } });
    const sub = positionals[0];
    const stack = createStack({
      ...stackOptionsFromConfig(cliConfig(values.config)),
      withRegistry: values['with-registry'] === true,
      log: (m) => console.error(`stack: ${m}`),
    });
    switch (sub) {
      case 'up': {
        const res = await stack.up();
        console.log(res.alreadyRunning ? 'The stack is already running; nothing to do.' : `Started: ${res.started.join(', ')}.`);
        console.log(formatStatus(res.components));
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

/** The stack listens where the services will connect: the first broker and the ClickHouse URL. */
export function stackOptionsFromConfig(cfg: ReturnType<typeof cliConfig>) {
  const [host, port] = (cfg.kafka.brokers[0] as string).split(':');
  const ch = new URL(cfg.clickhouse.url);
  if (ch.protocol !== 'http:')
    throw new AuditstreamError('USAGE', 'the local stack serves ClickHouse over http; clickhouse.url must start with http://', { field: 'clickhouse.url' });
  if (host !== ch.hostname)
    throw new AuditstreamError('USAGE', `the local stack binds one host; kafka.brokers[0] (${host}) and clickhouse.url (${ch.hostname}) differ`, {
      field: 'kafka.brokers',
    });
  return {
    host: host as string,
    kafkaPort: Number(port),
    kafkaControllerPort: cfg.stack.kafka_controller_port,
    clickhouseHttpPort: Number(ch.port || 8123),
    clickhouseTcpPort: cfg.stack.clickhouse_tcp_port,
    registryPort: cfg.stack.registry_port,
    startTimeoutMs: cfg.stack.start_timeout_ms,
    stopGraceMs: cfg.stack.stop_grace_ms,
  };
}
