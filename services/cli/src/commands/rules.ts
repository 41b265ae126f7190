import { readFileSync } from 'node:fs';
import { AuditstreamError } from '@auditstream/core';
import { type Command, parseOptions } from '../command.js';
import { configOption } from '../config.js';

const help = `Usage: auditstream rules <check|test> ...

  auditstream rules check <rules.yaml>
      Validates a rules file. Prints each problem as \`rule "<id>": <field> <problem>\`
      and exits 1 when there is any; prints the rules and exits 0 otherwise.

  auditstream rules test <events.ndjson|-> [--rules <file>] [--json] [--lateness-ms <n>]
      Replays audit events (one JSON object per line, "-" for stdin) through the rules and
      prints the alerts they raise, each in its final state. Events are sorted by occurred_at
      first; occurred_at may be an ISO-8601 string or epoch microseconds. No Kafka needed.

Options:
  --rules <file>        rules file (default: alerting.rules_file from the config)
  --json                print alerts as NDJSON instead of a table
  --lateness-ms <n>     allowed lateness in event time (default 0: the file is sorted)
  --config <file>       config file (YAML); AUDITSTREAM_CONFIG otherwise

See docs/alerting.md for the rule format.`;

// Loaded by name at run time: @auditstream/cli does not list @auditstream/alerting as a dependency yet.
const ALERTING_MODULE = '@auditstream/alerting';

interface AlertLike {
  alert_id: string;
  rule_id: string;
  severity: string;
  group: Record<string, string>;
  count: number;
  window_start: number;
  last_event_at: number;
  summary: string;
}

interface AlertingModule {
  loadRulesFile: (path: string, o?: { timezone?: string }) => { rules: Array<{ id: string; type: string; severity: string; name: string }> };
  parseNdjson: (text: string, source?: string) => unknown[];
  runRulesOffline: (
    events: unknown[],
    rules: unknown,
    o?: { allowed_lateness_ms?: number },
  ) => { alerts: AlertLike[]; evaluated: number; late: number; invalid: number };
  resolveRulesPath: (file: string) => string;
  loadAlertingConfig: (file: string | undefined) => { alerting: { rules_file: string; timezone: string } };
}

export const command: Command = {
  name: 'rules',
  summary: 'check a rules file, or test rules against recorded events (NDJSON)',
  help,
  async run(argv) {
    const { values, positionals } = parseOptions(argv, {
      ...configOption,
      rules: { type: 'string' },
      json: { type: 'boolean' },
      'lateness-ms': { type: 'string' },
    });
    const [sub, file] = positionals;
    const mod = (await import(ALERTING_MODULE)) as AlertingModule;
    if (sub === 'check') {
      if (!file) throw new AuditstreamError('USAGE', 'rules check needs the rules file to check', { field: 'file' });
      try {
        const set = mod.loadRulesFile(file);
        for (const r of set.rules) console.log(`${r.id.padEnd(24)} ${r.type.padEnd(10)} ${r.severity.padEnd(8)} ${r.name}`);
        console.log(`\n${file}: ok, ${set.rules.length} enabled rule(s)`);
        return 0;
      } catch (err) {
        if (err instanceof Error && (err as AuditstreamError).code === 'RULES_INVALID') {
          const errors = ((err as AuditstreamError).details?.errors as string[] | undefined) ?? [err.message];
          for (const e of errors) console.error(`${file}: ${e}`);
          return 1;
        }
        throw err;
      }
    }
    if (sub === 'test') {
      if (!file) throw new AuditstreamError('USAGE', 'rules test needs an NDJSON file of events ("-" for stdin)', { field: 'file' });
      const lateness = values['lateness-ms'] === undefined ? 0 : Number(values['lateness-ms']);
      if (!Number.isInteger(lateness) || lateness < 0)
        throw new AuditstreamError('USAGE', '--lateness-ms must be a non-negative integer', { field: 'lateness-ms' });
      const cfg = mod.loadAlertingConfig(values.config ?? process.env.AUDITSTREAM_CONFIG);
      const rulesFile = values.rules ?? mod.resolveRulesPath(cfg.alerting.rules_file);
      const rules = mod.loadRulesFile(rulesFile, { timezone: cfg.alerting.timezone });
      let text: string;
      try {
        text = file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
      } catch (cause) {
        throw new AuditstreamError('EVENTS_UNREADABLE', `cannot read ${file}`, { cause, field: 'file' });
      }
      const events = mod.parseNdjson(text, file === '-' ? 'stdin' : file);
      const res = mod.runRulesOffline(events, rules, { allowed_lateness_ms: lateness });
      if (values.json) {
        for (const a of res.alerts) console.log(JSON.stringify(a));
      } else {
        for (const a of res.alerts) {
          const group = Object.entries(a.group)
            .map(([k, v]) => `${k}=${v}`)
            .join(' ');
          console.log(`${new Date(a.window_start).toISOString()}  ${a.rule_id.padEnd(22)} ${a.severity.padEnd(8)} count=${String(a.count).padEnd(4)} ${group}`);
          console.log(`    ${a.summary}  [${a.alert_id}]`);
        }
      }
      console.error(
        `${res.evaluated} event(s) evaluated, ${res.alerts.length} alert(s)` +
          (res.late ? `, ${res.late} dropped as late` : '') +
          (res.invalid ? `, ${res.invalid} without occurred_at/event_id/tenant_id` : ''),
      );
      return 0;
    }
    console.error(sub ? `unknown subcommand "${sub}"\n\n${help}` : help);
    return 2;
  },
};
