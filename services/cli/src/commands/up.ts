import { createStack, formatStatus } from '@auditstream/stack';
import { type Command, parseOptions } from '../command.js';
import { cliConfig, configOption } from '../config.js';
import { stackOptionsFromConfig } from './stack.js';

const help = `Usage: auditstream up [--config <file>] [--detach]

The main job (\`npm start\`): brings the local stack up and prints where everything runs.
It then stays in the foreground until Ctrl-C (SIGINT) or SIGTERM, and stops what it started.

Options:
  --config <file>   config file (YAML); the environment overrides it
  --detach          start and return, leaving the stack running (stop it with \`auditstream stack down\`)`;

export const command: Command = {
  name: 'up',
  summary: 'the main job: start the stack and the pipeline, run until Ctrl-C',
  help,
  async run(argv) {
    const { values } = parseOptions(argv, { ...configOption, detach: { type: 'boolean' } }, false);
    const cfg = cliConfig(values.config);
    const stack = createStack({ ...stackOptionsFromConfig(cfg), log: (m) => console.error(`stack: ${m}`) });
    const res = await stack.up();
    console.log(res.alreadyRunning ? 'The stack was already running.' : `Started: ${res.started.join(', ')}.`);
    console.log(formatStatus(res.components));
    console.log(`\nKafka:       ${cfg.kafka.brokers.join(',')}`);
    console.log(`ClickHouse:  ${cfg.clickhouse.url}  (try: curl '${cfg.clickhouse.url}/?query=SELECT+version()')`);
    if (values.detach) return 0;
    console.log('\nRunning. Press Ctrl-C to stop.');
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    console.log('\nStopping…');
    if (!res.alreadyRunning) for (const r of await stack.down()) console.log(`${r.name}: ${r.result}`);
    return 0;
  },
};
