import { runApi } from '@auditstream/api';
import { type Command, intOption, parseOptions } from '../command.js';
import { configOption } from '../config.js';

const help = `Usage: auditstream api [--config <file>] [--host <addr>] [--port <n>]

Runs the query API (HTTP, fastify) on api.host:api.port (127.0.0.1:8080):
  GET  /v1/events                search events (time range, filters, cursor pagination)
  GET  /v1/events/{event_id}     one event with its integrity fields
  GET  /v1/stats/timeseries      counts per interval, optionally grouped
  GET  /v1/stats/top             top actors, resources or source IPs
  GET  /v1/export                NDJSON or CSV export, streamed
  GET  /v1/alerts                alert history (admin)
  POST /v1/integrity/verify      hash-chain verification (admin; 501 until a verifier is wired)
  GET  /openapi.json             the OpenAPI 3.1 document; /metrics, /healthz, /readyz

Requests authenticate with Authorization: Bearer <API key> (see \`auditstream apikey\`) or an
OIDC JWT (api.oidc_*). Every read is recorded as an audit event on topics.events.
SIGTERM or Ctrl-C: stops accepting, finishes in-flight requests (api.shutdown_timeout_ms), exits 0.
Full reference: docs/api.md.

Options:
  --config <file>   config file (YAML); AUDITSTREAM_CONFIG otherwise; the environment overrides it
  --host <addr>     listen address (overrides api.host)
  --port <n>        listen port (overrides api.port; 0 picks a free one)`;

export const command: Command = {
  name: 'api',
  summary: 'run the query API (search, stats, export, alerts, integrity) on 127.0.0.1:8080',
  help,
  async run(argv) {
    const { values } = parseOptions(argv, { ...configOption, host: { type: 'string' }, port: { type: 'string' } }, false);
    const overrides: Record<string, unknown> = {};
    if (values.host !== undefined) overrides['api.host'] = values.host;
    if (values.port !== undefined) overrides['api.port'] = intOption(values.port, 'port', 8080);
    const running = await runApi({
      configFile: values.config,
      overrides,
      onListening: (url) => console.error(`auditstream api: listening on ${url} (OpenAPI: ${url}/openapi.json)`),
    });
    await running.done;
    return 0;
  },
};
