import { readFileSync } from 'node:fs';
import { type Alert, compareRulesOffline, loadAlertingConfig, loadRulesFile, parseNdjson, resolveRulesPath, runRulesOffline } from '@auditstream/alerting';
import { AuditstreamError } from '@auditstream/core';
import { type Command, intOption, parseOptions } from '../command.js';
import { configOption } from '../config.js';

const help = `Usage: auditstream rules <check|test> ...

  auditstream rules check <rules.yaml>
      Validates a rules file. Prints each problem as \`rule "<id>": <field> <problem>\`
      and exits 1 when there is any; prints the rules and exits 0 otherwise.

  auditstream rules test <events.ndjson|-> [--rules <file>] [--baseline <file>] [--json] [--lateness-ms <n>]
      Replays recorded audit events through the rules, offline (no Kafka), and prints the
      alerts they raise, each in its final state. The events are NDJSON, one event per line,
      as GET /v1/export?format=ndjson returns them ("-" reads stdin); they are sorted by
      occurred_at first (ISO-8601 or epoch microseconds).
      With --baseline, tests a rule change before deploying it: the events go through both
      rule sets and the alerts the change adds and removes are printed, with per-rule counts.

Options:
  --rules <file>        rules to test (default: alerting.rules_file from the config)
  --baseline <file>     rules to compare with, e.g. the deployed deploy/rules/default.yaml
  --json                print alerts as NDJSON (with --baseline: {"change":"added"|"removed","alert":...})
  --lateness-ms <n>     allowed lateness in event time (default 0: the file is sorted)
  --config <file>       config file (YAML); AUDITSTREAM_CONFIG otherwise

See docs/alerting.md ("Testing a rule change") for the workflow.`;

function row(a: Alert, mark = ''): string {
  const group = Object.entries(a.group)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return `${mark}${new Date(a.window_start).toISOString()}  ${a.rule_id.padEnd(22)} ${a.severity.padEnd(8)} count=${String(a.count).padEnd(4)} ${group}\n${mark ? '  ' : ''}    ${a.summary}  [${a.alert_id}]`;
}

function check(file: string | undefined): number {
  if (!file) throw new AuditstreamError('USAGE', 'rules check needs the rules file to check', { field: 'file' });
  try {
    const set = loadRulesFile(file);
    for (const r of set.rules) console.log(`${r.id.padEnd(24)} ${r.type.padEnd(10)} ${r.severity.padEnd(8)} ${r.name}`);
    console.log(`\n${file}: ok, ${set.rules.length} enabled rule(s)`);
    return 0;
  } catch (err) {
    if (err instanceof AuditstreamError && err.code === 'RULES_INVALID') {
      const errors = (err.details?.errors as string[] | undefined) ?? [err.message];
      for (const e of errors) console.error(`${file}: ${e}`);
      return 1;
    }
    throw err;
  }
}

export const command: Command = {
  name: 'rules',
  summary: 'check a rules file, or test rules (or a rule change) against recorded events (an NDJSON export)',
  help,
  async run(argv) {
    const { values, positionals } = parseOptions(argv, {
      ...configOption,
      rules: { type: 'string' },
      baseline: { type: 'string' },
      json: { type: 'boolean' },
      'lateness-ms': { type: 'string' },
    });
    const [sub, file] = positionals;
    if (sub === 'check') return check(file);
    if (sub !== 'test') {
      console.error(sub ? `unknown subcommand "${sub}"\n\n${help}` : help);
      return 2;
    }
    if (!file) throw new AuditstreamError('USAGE', 'rules test needs an NDJSON file of events ("-" for stdin)', { field: 'file' });
    const lateness = intOption(values['lateness-ms'], 'lateness-ms', 0);
    const cfg = loadAlertingConfig(values.config ?? process.env.AUDITSTREAM_CONFIG);
    const load = (f: string) => loadRulesFile(f, { timezone: cfg.alerting.timezone });
    const rules = load(values.rules ?? resolveRulesPath(cfg.alerting.rules_file));
    let text: string;
    try {
      text = readFileSync(file === '-' ? 0 : file, 'utf8');
    } catch (cause) {
      throw new AuditstreamError('EVENTS_UNREADABLE', `cannot read ${file}`, { cause, field: 'file' });
    }
    const events = parseNdjson(text, file === '-' ? 'stdin' : file);
    const options = { allowed_lateness_ms: lateness };
    const summary = (r: { evaluated: number; late: number; invalid: number }, alerts: string) =>
      `${r.evaluated} event(s) evaluated, ${alerts}` +
      (r.late ? `, ${r.late} dropped as late` : '') +
      (r.invalid ? `, ${r.invalid} without occurred_at/event_id/tenant_id` : '');

    if (values.baseline) {
      const cmp = compareRulesOffline(events, load(values.baseline), rules, options);
      if (values.json) {
        for (const a of cmp.added) console.log(JSON.stringify({ change: 'added', alert: a }));
        for (const a of cmp.removed) console.log(JSON.stringify({ change: 'removed', alert: a }));
      } else {
        console.log(`${'rule'.padEnd(24)} ${'baseline'.padStart(8)} ${'proposed'.padStart(8)}`);
        for (const r of cmp.perRule) console.log(`${r.rule_id.padEnd(24)} ${String(r.baseline).padStart(8)} ${String(r.proposed).padStart(8)}`);
        for (const a of cmp.added) console.log(row(a, '+ '));
        for (const a of cmp.removed) console.log(row(a, '- '));
      }
      console.error(
        summary(
          cmp.proposed,
          `${cmp.baseline.alerts.length} alert(s) before, ${cmp.proposed.alerts.length} after: ${cmp.added.length} added, ${cmp.removed.length} removed`,
        ),
      );
      return 0;
    }
    const res = runRulesOffline(events, rules, options);
    for (const a of res.alerts) console.log(values.json ? JSON.stringify(a) : row(a));
    console.error(summary(res, `${res.alerts.length} alert(s)`));
    return 0;
  },
};
