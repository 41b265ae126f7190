import { AuditstreamError } from '@auditstream/core';
import { type DemoProgress, runDemo } from '@auditstream/demo';
import { createKafkaClient, defaultTopicSpecs, ensureTopics } from '@auditstream/kafka';
import { createLogger } from '@auditstream/observability';
import { createAuditProducer } from '@auditstream/producer';
import { type Command, parseOptions } from '../command.js';
import { cliConfig, configOption } from '../config.js';

const help = `Usage: auditstream demo [--rate N] [--duration S] [--tenants a,b,c] [--attack-interval S] [--seed N] [--config <file>]

Publishes realistic audit traffic through the producer SDK to topics.events (created if
missing): logins with some failures, document reads and edits, configuration changes,
exports, role grants and admin actions, plus injected attacks for the alert rules:
  brute force        8 failed auth.login for one user from one IP within ~8 s
  password spraying  one IP failing auth.login for 15 different users within ~15 s
A progress line goes to stderr. Ctrl-C stops cleanly: pending events are flushed and the
producer closed (a second Ctrl-C exits at once).

Options:
  --rate N              events per second (default 50)
  --duration S          seconds to run; 0 runs until Ctrl-C (default 0)
  --tenants a,b,c       tenant ids (default acme,globex,initech)
  --attack-interval S   seconds between injected attacks, alternating kinds; 0 disables (default 30)
  --seed N              random seed, for repeatable traffic (default: time-based)
  --config <file>       config file (YAML); AUDITSTREAM_CONFIG otherwise; the environment overrides it`;

function number(value: string | undefined, name: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min) throw new AuditstreamError('USAGE', `--${name} must be a number ≥ ${min}, got "${value}"`, { field: name });
  return n;
}

function line(p: DemoProgress): string {
  const err = p.last_error ? `  last error ${p.last_error}` : '';
  const skipped = p.skipped ? `  skipped ${p.skipped}` : '';
  return `${p.elapsed_s.toFixed(0)}s  published ${p.published}  acked ${p.acked}  failed ${p.failed}  in flight ${p.in_flight}  ${p.rate_per_s.toFixed(0)}/s  attacks: brute-force ${p.attacks.brute_force}, spraying ${p.attacks.password_spraying}${skipped}${err}`;
}

export const command: Command = {
  name: 'demo',
  summary: 'publish realistic audit traffic with injected attacks through the SDK',
  help,
  async run(argv) {
    const { values } = parseOptions(
      argv,
      {
        ...configOption,
        rate: { type: 'string' },
        duration: { type: 'string' },
        tenants: { type: 'string' },
        'attack-interval': { type: 'string' },
        seed: { type: 'string' },
      },
      false,
    );
    const rate = number(values.rate, 'rate', 50, 0.1);
    const duration = number(values.duration, 'duration', 0, 0);
    const attackInterval = number(values['attack-interval'], 'attack-interval', 30, 0);
    const seed = number(values.seed, 'seed', Date.now() % 2 ** 31, 0);
    const tenants = values.tenants
      ?.split(',')
      .map((t) => t.trim())
      .filter(Boolean);
    const cfg = cliConfig(values.config);
    const logger = createLogger({ service: 'demo', level: cfg.log.level === 'info' ? 'warn' : cfg.log.level });
    // kafkajs warns on every start that the SDK bounds its internal retries (the SDK re-sends
    // the same batch itself until delivery_timeout_ms): only its errors reach the terminal here.
    const kafkaLogger = createLogger({ service: 'demo', level: cfg.log.level === 'info' ? 'error' : cfg.log.level });
    const kafka = createKafkaClient(cfg.kafka, { component: 'demo', logger: kafkaLogger });
    const events = defaultTopicSpecs(cfg.topics).filter((s) => s.name === cfg.topics.events);
    await ensureTopics(kafka, { topics: events, logger });

    const producer = createAuditProducer({ kafka, topic: cfg.topics.events, logger: logger.child({ component: 'producer' }) });

    const stop = new AbortController();
    let interrupts = 0;
    const onSignal = () => {
      interrupts++;
      if (interrupts > 1) {
        process.stderr.write('\naborting\n');
        process.exit(130);
      }
      process.stderr.write('\nstopping: flushing pending events (Ctrl-C again to abort)\n');
      stop.abort();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const tty = process.stderr.isTTY;
    process.stderr.write(
      `demo: ${rate} events/s to ${cfg.topics.events}${duration > 0 ? ` for ${duration} s` : ' until Ctrl-C'}, seed ${seed}, attacks every ${attackInterval || '∞'} s\n`,
    );
    try {
      const final = await runDemo({
        producer,
        rate,
        duration_s: duration,
        signal: stop.signal,
        traffic: { seed, attack_interval_s: attackInterval, ...(tenants?.length ? { tenants } : {}) },
        onProgress: (p) => process.stderr.write(tty ? `\r\u001b[2K${line(p)}` : `${line(p)}\n`),
        onAttack: (a) =>
          process.stderr.write(
            `${tty ? '\r\u001b[2K' : ''}injecting ${a.kind.replace('_', ' ')}: tenant ${a.tenant_id}, source ip ${a.source_ip}, ${a.actors.length} target${a.actors.length === 1 ? '' : 's'}\n`,
          ),
      });
      const report = await producer.close({ timeout_ms: 10_000 });
      if (tty) process.stderr.write('\n'); // keep the final progress line
      if (report.undelivered > 0) process.stderr.write(`${report.undelivered} events were not delivered before close\n`);
      return final.failed > 0 || report.undelivered > 0 ? 1 : 0;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await producer.close({ timeout_ms: 1000 });
    }
  },
};
