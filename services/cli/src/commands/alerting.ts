import { type Command, parseOptions } from '../command.js';
import { configOption } from '../config.js';

const help = `Usage: auditstream alerting [--config <file>] [--rules <file>]

Runs the alerting service: consumes the events topic (topics.events) in the consumer group
alerting.consumer_group, evaluates the rules file in event time and delivers each alert once
per incident to the alerts topic (topics.alerts, Avro) and to the webhook, Slack and
Alertmanager sinks that are enabled. The rules file is hot-reloaded; an invalid edit is
rejected and the last good rules stay active. On start (and on every rebalance) the rule
windows are rebuilt from the last max-window of events without re-firing delivered alerts.

Serves /metrics, /healthz and /readyz on alerting.metrics_host:alerting.metrics_port (127.0.0.1:9465).
SIGTERM or Ctrl-C: stops consuming, delivers what is queued (up to 5 s) and exits 0.

Options:
  --config <file>   config file (YAML); AUDITSTREAM_CONFIG otherwise; the environment overrides it
  --rules <file>    rules file, instead of alerting.rules_file (default deploy/rules/default.yaml)

See docs/alerting.md for the rule format and the default rules.`;

// Loaded by name at run time: @auditstream/cli does not list @auditstream/alerting as a dependency yet.
const ALERTING_MODULE = '@auditstream/alerting';

export const command: Command = {
  name: 'alerting',
  summary: 'run the alerting service (rules over the event stream → alerts topic, webhook, Slack, Alertmanager)',
  help,
  async run(argv) {
    const { values } = parseOptions(argv, { ...configOption, rules: { type: 'string' } }, false);
    const { runAlerting } = (await import(ALERTING_MODULE)) as {
      runAlerting: (o: { configFile?: string | undefined; overrides?: Record<string, unknown> }) => Promise<number>;
    };
    return runAlerting({ configFile: values.config, overrides: values.rules ? { 'alerting.rules_file': values.rules } : {} });
  },
};
