import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createClickHouse, migrate } from '@auditstream/clickhouse';
import { repoRoot, sleep, stateDir } from '@auditstream/core';
import { generateKeyFiles } from '@auditstream/integrity';
import { createKafkaClient, defaultTopicSpecs, ensureTopics } from '@auditstream/kafka';
import { createLogger } from '@auditstream/observability';
import { createStack, createSupervisor, formatStatus, scrapeSums } from '@auditstream/stack';
import { type Command, intOption, parseOptions } from '../command.js';
import { cliConfig, configOption } from '../config.js';
import { stackOptionsFromConfig } from './stack.js';

const help = `Usage: auditstream up [--config <file>] [--demo-rate N] [--no-demo] [--status-interval-s N]

The main job (\`npm start\`). Brings the local stack up (Kafka + ClickHouse), creates the
topics, applies the ClickHouse migrations, then runs ingest, alerting and the query API, plus
a demo producer with injected attacks. Prints where everything is, then a live status line
(events/s in, stored, lag, alerts) and every alert as it fires, until Ctrl-C (or SIGTERM),
which stops everything it started, cleanly; so does SIGHUP (the terminal closed) or a closed
output (\`npm start | tee log\` after Ctrl-C). Service logs go to .auditstream/logs/.

Options:
  --config <file>         config file (YAML); the environment overrides it
  --demo-rate N           demo events per second (default 20)
  --no-demo               do not run the demo producer
  --status-interval-s N   seconds between status lines (default 2)`;

const SERVICES = ['ingest', 'alerting', 'api'] as const;

export const command: Command = {
  name: 'up',
  summary: 'the main job: start the stack and the pipeline, run until Ctrl-C',
  help,
  async run(argv) {
    const { values } = parseOptions(
      argv,
      { ...configOption, 'demo-rate': { type: 'string' }, 'no-demo': { type: 'boolean' }, 'status-interval-s': { type: 'string' } },
      false,
    );
    const cfg = cliConfig(values.config);
    const demoRate = intOption(values['demo-rate'], 'demo-rate', 20);
    const interval = Math.max(1, intOption(values['status-interval-s'], 'status-interval-s', 2)) * 1000;
    const logger = createLogger({ level: 'warn', service: 'up' });
    // Once the reader is gone (main.ts turns that into SIGTERM), nothing is written any more.
    const write = (text: string) => {
      if (process.stdout.writable) process.stdout.write(text);
    };
    const say = (msg: string) => write(`${msg}\n`);

    let stopRequested = false;
    let wake: () => void = () => {};
    const onSignal = () => {
      stopRequested = true;
      wake();
    };
    // SIGHUP: the terminal closed. Its children are in process groups of their own, so no
    // signal of the terminal reaches them: up stops them, whatever stops up.
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('SIGHUP', onSignal);

    const stack = createStack({ ...stackOptionsFromConfig(cfg), log: (m) => console.error(`stack: ${m}`) });
    const res = await stack.up();
    say(res.alreadyRunning ? 'The stack was already running.' : `Started ${res.started.join(' and ')}.`);
    say(formatStatus(res.components));

    const sup = createSupervisor();
    const cleanup = async () => {
      if (process.stdout.isTTY) write('\n');
      say('Stopping…');
      for (const r of await sup.stopAll(30_000)) say(`  ${r.name}: ${r.result}${r.code !== null ? ` (exit ${r.code})` : ''}`);
      if (!res.alreadyRunning) for (const r of await stack.down()) say(`  ${r.name}: ${r.result}`);
      say('Everything auditstream up started is stopped.');
    };

    try {
      const kafka = createKafkaClient(cfg.kafka, { component: 'up', logger });
      const topics = await ensureTopics(kafka, { topics: defaultTopicSpecs(cfg.topics) });
      say(`Topics: ${topics.created.length ? `created ${topics.created.join(', ')}` : 'all present'}.`);
      const ch = createClickHouse(cfg.clickhouse, { logger, component: 'up.clickhouse' });
      const mig = await migrate(ch);
      say(`ClickHouse: ${mig.message}`);
      const { createApiKey } = await import('@auditstream/api');
      const key = await createApiKey(ch, { role: 'admin', tenants: [] });
      await ch.close();

      const bin = join(repoRoot(), 'services', 'cli', 'bin', 'auditstream.js');
      const logs = join(stateDir(), 'logs');
      const configArgs = values.config ? ['--config', values.config] : [];
      // Tamper evidence needs a signing key: a local one is made once for this checkout.
      const env: NodeJS.ProcessEnv = { ...process.env };
      let keyNote = 'off (integrity.enabled is false)';
      if (cfg.integrity.enabled && !cfg.integrity.signing_key_file && !cfg.integrity.signing_key) {
        const dir = join(stateDir(), 'keys');
        if (!existsSync(join(dir, 'private.pem'))) generateKeyFiles(dir);
        env.AUDITSTREAM_INTEGRITY__SIGNING_KEY_FILE = join(dir, 'private.pem');
        env.AUDITSTREAM_INTEGRITY__PUBLIC_KEY_FILES = join(dir, 'public.pem');
        keyNote = `checkpoints signed with the local key in ${dir}; check with: npx auditstream verify --public-key ${join(dir, 'public.pem')}`;
      } else if (cfg.integrity.enabled) {
        keyNote = 'checkpoints signed with the configured key';
      }
      // Export manifests are signed with a key of the API's own (not the checkpoint key), made once likewise.
      let manifestNote = 'signed with the configured key (api.export_manifest_signing_key_file)';
      if (!cfg.api.export_manifest_signing_key_file && !cfg.api.export_manifest_signing_key) {
        const dir = join(stateDir(), 'keys', 'api');
        if (!existsSync(join(dir, 'private.pem'))) generateKeyFiles(dir);
        env.AUDITSTREAM_API__EXPORT_MANIFEST_SIGNING_KEY_FILE = join(dir, 'private.pem');
        env.AUDITSTREAM_API__EXPORT_MANIFEST_PUBLIC_KEY_FILES = join(dir, 'public.pem');
        manifestNote = `signed with the local key in ${dir}; check with: npx auditstream export verify <file> <manifest> --public-key ${join(dir, 'public.pem')}`;
      }
      // The console's Alerts page and GET /v1/alerts read the ClickHouse alert history: up stores
      // alerts there unless the config (file or environment) says whether to.
      let alertHistory = 'ClickHouse alerts table (alerting.sinks.clickhouse)';
      const clickhouseSink = (cfg.alerting.sinks as Record<string, { enabled?: unknown } | undefined>).clickhouse;
      if (clickhouseSink?.enabled === undefined) env.AUDITSTREAM_ALERTING__SINKS__CLICKHOUSE__ENABLED = 'true';
      else if (String(clickhouseSink.enabled) !== 'true') alertHistory = 'not stored (alerting.sinks.clickhouse.enabled is false)';
      for (const name of SERVICES) sup.start({ name, command: process.execPath, args: [bin, name, ...configArgs], log: join(logs, `${name}.log`), env });
      if (!values['no-demo']) {
        sup.start({
          name: 'demo',
          command: process.execPath,
          args: [bin, 'demo', '--rate', String(demoRate), ...configArgs],
          log: join(logs, 'demo.log'),
          env,
        });
      }
      sup.onUnexpectedExit((child, code, signal) => {
        console.error(`\n${child.name} exited unexpectedly (${signal ?? `code ${code}`}); see ${child.log}`);
      });

      const api = `http://${cfg.api.host}:${cfg.api.port}`;
      say(`
auditstream is running.
  Query API     ${api}   (OpenAPI: ${api}/openapi.json)
  API key       admin key for this session (shown once):
                ${key.key}
  Console       ${cfg.api.console_enabled ? `${api}/console/  (a one-time sign-in link follows once the API answers)` : 'off (api.console_enabled is false)'}
  Try           curl -s -H "Authorization: Bearer ${key.key}" "${api}/v1/events?from=$(date -u -d '-10 min' +%FT%TZ)&to=$(date -u +%FT%TZ)&limit=5"
  Metrics       ingest http://${cfg.ingest.metrics_host}:${cfg.ingest.metrics_port}/metrics · alerting http://${cfg.alerting.metrics_host}:${cfg.alerting.metrics_port}/metrics · api ${api}/metrics
  Alerts        Kafka topic ${cfg.topics.alerts} (and printed below as they fire) · history: ${alertHistory}
  Integrity     ${keyNote}
  Exports       manifests ${manifestNote}
  Kafka         ${cfg.kafka.brokers.join(',')} · ClickHouse ${cfg.clickhouse.url}
  Logs          ${logs}/{${[...SERVICES, 'demo'].join(',')}}.log
Press Ctrl-C to stop.
`);
      const tty = process.stdout.isTTY === true;
      // The link is printed when the API answers, without holding up the status loop or Ctrl-C.
      if (cfg.api.console_enabled) {
        void consoleSigninLink(api, key.key, () => stopRequested).then((link) => {
          if (link) write(`${tty ? '\r\x1b[K' : ''}Console sign-in link (works once, for the key above): ${link}\n`);
        });
      }
      const alertsDone = watchAlerts(createKafkaClient(cfg.kafka, { component: 'up-alerts' }), cfg.topics.alerts, (line) => {
        write(tty ? `\r\x1b[K${line}\n` : `${line}\n`);
      });

      const ingestUrl = `http://${cfg.ingest.metrics_host}:${cfg.ingest.metrics_port}/metrics`;
      const alertingUrl = `http://${cfg.alerting.metrics_host}:${cfg.alerting.metrics_port}/metrics`;
      let last: { t: number; received: number; inserted: number } | undefined;
      let ticks = 0;
      while (!stopRequested) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, interval);
        });
        if (stopRequested) break;
        const i = await scrapeSums(ingestUrl, [
          'auditstream_ingest_received_events_total',
          'auditstream_ingest_inserted_events_total',
          'auditstream_ingest_consumer_lag',
        ]);
        const a = await scrapeSums(alertingUrl, ['auditstream_alerting_alerts_fired_total']);
        const now = Date.now();
        const received = i?.auditstream_ingest_received_events_total ?? 0;
        const inserted = i?.auditstream_ingest_inserted_events_total ?? 0;
        const rate = last ? ((received - last.received) * 1000) / (now - last.t) : 0;
        last = { t: now, received, inserted };
        const line = i
          ? `in ${rate.toFixed(0)} ev/s · stored ${inserted} · lag ${i.auditstream_ingest_consumer_lag ?? 0} · alerts ${a?.auditstream_alerting_alerts_fired_total ?? '?'}`
          : 'waiting for ingest to answer…';
        if (tty) write(`\r\x1b[K${line}`);
        else if (ticks++ % 5 === 0) say(line);
      }
      await alertsDone.stop();
    } catch (err) {
      await cleanup();
      throw err;
    }
    await cleanup();
    return 0;
  },
};

/**
 * A one-time console sign-in link for the session's key: the API mints a code standing for the
 * key (POST /v1/console/signin-codes), so the long-lived key never appears in a URL. Waits for
 * the API to answer (up to 60 s); undefined when it does not.
 */
async function consoleSigninLink(api: string, key: string, stopped: () => boolean): Promise<string | undefined> {
  for (let i = 0; i < 120 && !stopped(); i++) {
    try {
      const res = await fetch(`${api}/v1/console/signin-codes`, { method: 'POST', headers: { authorization: `Bearer ${key}` } });
      if (res.ok) return `${api}/console/signin#code=${((await res.json()) as { code: string }).code}`;
    } catch {
      /* not listening yet */
    }
    await sleep(500);
  }
  return undefined;
}

/** Prints each alert the pipeline fires (first delivery only) from the alerts topic. */
function watchAlerts(kafka: ReturnType<typeof createKafkaClient>, topic: string, print: (line: string) => void): { stop: () => Promise<void> } {
  const consumer = kafka.consumer({ groupId: `auditstream-up-console-${process.pid}-${Date.now()}` });
  const started = (async () => {
    const { decodeAlert } = await import('@auditstream/alerting');
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: false });
    await consumer.run({
      eachMessage: async ({ message }) => {
        if (!message.value) return;
        try {
          const d = decodeAlert(message.value);
          if (d.kind !== 'fired') return;
          print(`ALERT [${d.alert.severity}] ${d.alert.rule_id} (${d.alert.tenant_id}): ${d.alert.summary}`);
        } catch {
          /* not an alert this version can read: skip it, the topic keeps it */
        }
      },
    });
  })().catch((err) => print(`(alert watcher stopped: ${(err as Error).message})`));
  return {
    stop: async () => {
      await started;
      await consumer.disconnect().catch(() => {});
    },
  };
}
