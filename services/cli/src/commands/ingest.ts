import { runIngest } from '@auditstream/ingest';
import { type Command, parseOptions } from '../command.js';
import { configOption } from '../config.js';

const help = `Usage: auditstream ingest [--config <file>]

Runs the ingest service: consumes the events topic (topics.events) in the consumer group
ingest.group_id, decodes, validates, enriches and redacts each event, inserts batches into
ClickHouse, and sends poison messages to the dead-letter topic (topics.dlq). Offsets are
committed only once their rows are stored. Run several to share the work.

Serves /metrics, /healthz and /readyz on ingest.metrics_host:ingest.metrics_port (127.0.0.1:9464).
SIGTERM or Ctrl-C: stops fetching, flushes, commits and exits 0 within ingest.shutdown_timeout_ms.
Exits 1 on a fatal error (e.g. ClickHouse rejects the credentials).

Options:
  --config <file>   config file (YAML); AUDITSTREAM_CONFIG otherwise; the environment overrides it`;

export const command: Command = {
  name: 'ingest',
  summary: 'run the ingest service (Kafka → ClickHouse, with a dead-letter topic)',
  help,
  async run(argv) {
    const { values } = parseOptions(argv, configOption, false);
    return runIngest({ configFile: values.config });
  },
};
