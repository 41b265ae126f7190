import { AuditstreamError } from '@auditstream/core';
import { createKafkaClient, defaultTopicSpecs, ensureTopics } from '@auditstream/kafka';
import { createLogger } from '@auditstream/observability';
import { type Command, intOption, parseOptions } from '../command.js';
import { cliConfig, configOption } from '../config.js';

const help = `Usage: auditstream topics create [--partitions N] [--replication-factor N] [--config <file>]

Creates the Kafka topics auditstream uses, when missing (brokers run with automatic topic
creation off): topics.events, topics.dlq, topics.alerts (topics.partitions partitions each)
and topics.checkpoints (one partition, kept forever). Existing topics are left unchanged;
a topic with fewer partitions than configured is reported. Safe to run again.

Options:
  --partitions N           partitions per topic (default: topics.partitions, 6)
  --replication-factor N   replicas per partition (default: topics.replication_factor, 1)
  --config <file>          config file (YAML); AUDITSTREAM_CONFIG otherwise; the environment overrides it`;

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export const command: Command = {
  name: 'topics',
  summary: 'create the Kafka topics auditstream needs (idempotent)',
  help,
  async run(argv) {
    const { values, positionals } = parseOptions(argv, {
      ...configOption,
      partitions: { type: 'string' },
      'replication-factor': { type: 'string' },
    });
    if (positionals[0] !== 'create' || positionals.length > 1) {
      throw new AuditstreamError('USAGE', positionals[0] ? `unknown subcommand "${positionals.join(' ')}"` : 'missing subcommand: create', {
        field: 'subcommand',
      });
    }
    const cfg = cliConfig(values.config);
    const partitions = intOption(values.partitions, 'partitions', cfg.topics.partitions);
    const rf = intOption(values['replication-factor'], 'replication-factor', cfg.topics.replication_factor);
    if (partitions < 1) throw new AuditstreamError('USAGE', '--partitions must be at least 1', { field: 'partitions' });
    if (rf < 1) throw new AuditstreamError('USAGE', '--replication-factor must be at least 1', { field: 'replication-factor' });
    const logger = createLogger({ service: 'cli', level: cfg.log.level === 'info' ? 'warn' : cfg.log.level });
    const kafka = createKafkaClient(cfg.kafka, { component: 'topics', logger });
    const specs = defaultTopicSpecs(cfg.topics, { partitions, replication_factor: rf });
    const res = await ensureTopics(kafka, { topics: specs }); // the lines below say what the logger would
    for (const s of specs) {
      const existing = res.existing.find((e) => e.name === s.name);
      if (res.created.includes(s.name)) console.log(`created  ${s.name} (${plural(s.partitions, 'partition')}, replication ${s.replicationFactor})`);
      else if (existing) {
        const note = existing.partitions >= 0 && existing.partitions < s.partitions ? `, fewer than the ${s.partitions} configured: left unchanged` : '';
        console.log(`exists   ${s.name} (${existing.partitions >= 0 ? plural(existing.partitions, 'partition') : 'partitions unknown'}${note})`);
      }
    }
    return 0;
  },
};
