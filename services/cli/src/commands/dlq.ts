import { formatDlqReport, replayDlq, scanDlq } from '@auditstream/ingest';
import { createKafkaClient } from '@auditstream/kafka';
import { type Command, intOption, parseOptions } from '../command.js';
import { cliConfig, configOption } from '../config.js';

const help = `Usage: auditstream dlq inspect [--limit N] [--from-offset O] [--config <file>]
       auditstream dlq replay (--offsets P:O[,P:O...] | --error-class CLASS) [--limit N] [--config <file>]

The dead-letter topic (topics.dlq) holds messages ingest could not store, byte for byte, with
headers saying why: x-auditstream-error-class (not_avro, unknown_schema, invalid, oversize,
rejected), x-auditstream-error-message, x-auditstream-source-topic/-partition/-offset and
x-auditstream-first-seen.

  inspect   lists the dead letters (never their payload) and counts them by error class;
            reads with a throwaway consumer group, changes nothing
  replay    re-publishes the chosen dead letters to the events topic (topics.events), once the
            cause is fixed; they stay in the DLQ, and go back there if they fail again

Options:
  --limit N          at most N dead letters (inspect default 100)
  --from-offset O    start every DLQ partition at offset O (default: the earliest kept)
  --offsets P:O,...  the dead letters to replay, as DLQ partition:offset (as inspect prints them)
  --error-class C    replay every dead letter of that class
  --config <file>    config file (YAML); the environment overrides it`;

export const command: Command = {
  name: 'dlq',
  summary: 'inspect or replay the dead-letter topic',
  help,
  async run(argv) {
    const { values, positionals } = parseOptions(argv, {
      ...configOption,
      limit: { type: 'string' },
      'from-offset': { type: 'string' },
      offsets: { type: 'string', multiple: true },
      'error-class': { type: 'string' },
    });
    const sub = positionals[0];
    if (sub !== 'inspect' && sub !== 'replay') {
      console.error(sub ? `unknown subcommand "${sub}"\n\n${help}` : help);
      return 2;
    }
    const cfg = cliConfig(values.config);
    const kafka = createKafkaClient(cfg.kafka, { component: 'cli-dlq' });
    if (sub === 'inspect') {
      const fromOffset = values['from-offset'] === undefined ? undefined : String(intOption(values['from-offset'], 'from-offset', 0));
      const entries = await scanDlq(kafka, cfg.topics.dlq, { limit: intOption(values.limit, 'limit', 100), ...(fromOffset ? { fromOffset } : {}) });
      console.log(formatDlqReport(entries, cfg.topics.dlq));
      return 0;
    }
    const res = await replayDlq(
      kafka,
      { dlq: cfg.topics.dlq, events: cfg.topics.events },
      {
        ...(values.offsets ? { offsets: values.offsets } : {}),
        ...(values['error-class'] ? { errorClass: values['error-class'] } : {}),
        ...(values.limit !== undefined ? { limit: intOption(values.limit, 'limit', 0) } : {}),
      },
    );
    for (const e of res.replayed) console.log(`replayed ${e.partition}:${e.offset} (${e.errorClass}) to ${cfg.topics.events}`);
    for (const m of res.missing) console.error(`not found in ${cfg.topics.dlq}: ${m}`);
    for (const e of res.skipped)
      console.error(
        `skipped ${e.partition}:${e.offset}: its value was too large for the DLQ; the original is at ${e.sourceTopic}/${e.sourcePartition}@${e.sourceOffset}`,
      );
    console.log(`${res.replayed.length} dead letter(s) replayed.`);
    return res.missing.length > 0 ? 1 : 0;
  },
};
