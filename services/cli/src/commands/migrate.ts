import { createClickHouse, migrate, migrationStatus } from '@auditstream/clickhouse';
import { AuditstreamError } from '@auditstream/core';
import { createLogger } from '@auditstream/observability';
import { type Command, parseOptions } from '../command.js';
import { cliConfig, configOption } from '../config.js';

const help = `Usage: auditstream migrate [--dry-run] [--config <file>] [--database <name>]
       auditstream migrate status [--config <file>] [--database <name>]

Creates or updates the ClickHouse schema (database, audit tables, lookup views) for the
connected server's capabilities, recording each migration in <database>.schema_migrations.
A second run finds nothing pending and says so.

  status            list migrations, applied or pending, and the server's layout

Options:
  --dry-run         print the statements that would run; change nothing
  --database <name> database to migrate (default: clickhouse.database, "audit")
  --config <file>   config file (or AUDITSTREAM_CONFIG); run as an account allowed DDL
                    (clickhouse.username, e.g. auditstream_admin)`;

export const command: Command = {
  name: 'migrate',
  summary: 'create or update the ClickHouse schema (status: what is applied)',
  help,
  async run(argv) {
    const { values, positionals } = parseOptions(argv, { ...configOption, 'dry-run': { type: 'boolean' }, database: { type: 'string' } });
    const sub = positionals[0];
    if (sub !== undefined && sub !== 'status') throw new AuditstreamError('USAGE', `unknown subcommand "${sub}"`, { field: 'subcommand' });
    const cfg = cliConfig(values.config);
    const logger = createLogger({ service: 'cli', level: cfg.log.level === 'info' ? 'warn' : cfg.log.level });
    const ch = createClickHouse(values.database ? { ...cfg.clickhouse, database: values.database } : cfg.clickhouse, { logger, component: 'migrate' });
    try {
      if (sub === 'status') {
        const st = await migrationStatus(ch, { cluster: cfg.clickhouse.cluster });
        console.log(`ClickHouse ${st.serverVersion}, ${st.layout} layout, database ${st.database}`);
        for (const e of st.entries) {
          console.log(
            `  ${e.applied ? 'applied ' : 'pending '} ${e.id.padEnd(16)} ${e.applied_at ?? ''}${e.drift ? '  (rendered differently for this server: tables keep the layout they were created with)' : ''}`,
          );
        }
        console.log(st.pending.length ? `${st.pending.length} pending: run \`auditstream migrate\`.` : 'Up to date.');
        return 0;
      }
      const res = await migrate(ch, {
        dryRun: values['dry-run'] ?? false,
        cluster: cfg.clickhouse.cluster,
        ...(values['dry-run'] ? { onStatement: (id: string, s: string) => console.log(`-- ${id}\n${s};\n`) } : {}),
      });
      console.log(res.message);
      return 0;
    } finally {
      await ch.close();
    }
  },
};
