import { AuditstreamError } from '@auditstream/core';
import { type Command, intOption, parseOptions } from '../command.js';
import { cliConfig, configOption } from '../config.js';

const help = `Usage: auditstream verify [--public-key <file|dir>]… [--from <time>] [--to <time>] [--tenant <id>]
                          [--partition <n>]… [--topic <name>] [--full] [--json] [--config <file>]

Recomputes the hash chain of every Kafka partition from ClickHouse (rows streamed in offset order,
constant memory), checks every checkpoint signature in the checkpoints table AND on the checkpoints
topic (topics.checkpoints), and exits non-zero naming the first broken link (partition, offset,
event id, what is wrong): a modified field, a deleted row, a forged row, reordered rows, a forged
or altered checkpoint, rows missing after a checkpoint (or below ingest's committed offset).
Progress and events/s go to stderr. What a partial run (--tenant, --from/--to) proves: docs/integrity.md.

Options:
  --public-key <path>   trusted Ed25519 public key (PEM), or a directory of *.pem; repeat after key
                        rotation: each checkpoint's key_id picks its key (default integrity.public_key_files)
  --from <time>         occurred_at from (RFC 3339, inclusive); --to <time> until (exclusive)
  --full                with --from/--to: verify whole chains, report findings in range only
                        (default: verify the span between the nearest signed checkpoints)
  --margin-ms <n>       slack around --from/--to when picking anchor checkpoints (integrity.verify_margin_ms)
  --tenant <id>         report row findings for this tenant only (chains are still verified whole)
  --partition <n>       only this Kafka partition (repeat, or comma-separated)
  --topic <name>        only this events topic (default: every topic found)
  --allow-offset-gaps   offsets neither stored nor dead-lettered are warnings (transactional producers)
  --require-retention-evidence
                        a chain whose oldest rows are gone (truncated) fails unless a trusted retention
                        run's recorded cut-off explains them (default integrity.verify_require_retention_evidence,
                        false: a warning that says whether one does)
  --ingest-group <id>   consumer group whose committed offsets prove rows existed (default ingest.group_id)
  --no-kafka            do not read the checkpoints topic, high watermarks or committed offsets
  --database <name>     ClickHouse database (default clickhouse.database); use a read-only account
  --max-findings <n>    findings listed per partition (default 1000; more are counted)
  --json                print the machine-readable report on stdout
  --config <file>       config file (or AUDITSTREAM_CONFIG)

Exit status: 0 verified (warnings allowed), 1 integrity errors found, 2 usage, 3 could not verify.`;

// Loaded by name at run time: @auditstream/cli does not list @auditstream/integrity as a dependency yet.
const INTEGRITY_MODULE = '@auditstream/integrity';
type IntegrityModule = typeof import('@auditstream/integrity');

function time(value: string | undefined, name: string): Date | undefined {
  if (value === undefined) return undefined;
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new AuditstreamError('USAGE', `--${name} must be an RFC 3339 time, got "${value}"`, { field: name });
  return d;
}

export const command: Command = {
  name: 'verify',
  summary: 'verify the hash chains and signed checkpoints (tamper evidence)',
  help,
  async run(argv) {
    const { values } = parseOptions(
      argv,
      {
        ...configOption,
        'public-key': { type: 'string', multiple: true },
        from: { type: 'string' },
        to: { type: 'string' },
        tenant: { type: 'string' },
        partition: { type: 'string', multiple: true },
        topic: { type: 'string' },
        full: { type: 'boolean' },
        'margin-ms': { type: 'string' },
        'allow-offset-gaps': { type: 'boolean' },
        'require-retention-evidence': { type: 'boolean' },
        'ingest-group': { type: 'string' },
        'no-kafka': { type: 'boolean' },
        database: { type: 'string' },
        'max-findings': { type: 'string' },
        json: { type: 'boolean' },
      },
      false,
    );
    const cfg = cliConfig(values.config);
    // Sections other components add to the schema (integrity, ingest) are read when present.
    const extra = cfg as unknown as {
      integrity?: {
        public_key_files?: readonly string[];
        verify_margin_ms?: number;
        verify_allow_offset_gaps?: boolean;
        verify_require_retention_evidence?: boolean;
      };
      ingest?: { group_id?: string };
    };
    const from = time(values.from, 'from');
    const to = time(values.to, 'to');
    if (from && to && to <= from) throw new AuditstreamError('USAGE', '--to must be after --from', { field: 'to' });
    const partitions = values.partition?.flatMap((p) => p.split(',')).map((p) => intOption(p.trim(), 'partition', 0));
    const maxFindings = values['max-findings'] !== undefined ? intOption(values['max-findings'], 'max-findings', 1000) : undefined;
    const marginMs = intOption(values['margin-ms'], 'margin-ms', extra.integrity?.verify_margin_ms ?? 900_000);
    const mod = (await import(INTEGRITY_MODULE)) as IntegrityModule;
    return mod.runVerifyCommand({
      clickhouse: values.database ? { ...cfg.clickhouse, database: values.database } : cfg.clickhouse,
      ...(values['no-kafka'] ? {} : { kafka: cfg.kafka }),
      checkpointsTopic: cfg.topics.checkpoints,
      ...((values['ingest-group'] ?? extra.ingest?.group_id) ? { ingestGroupId: (values['ingest-group'] ?? extra.ingest?.group_id) as string } : {}),
      publicKeyPaths: values['public-key'] ?? extra.integrity?.public_key_files ?? [],
      ...(values.topic !== undefined ? { topic: values.topic } : {}),
      ...(partitions ? { partitions } : {}),
      ...(from ? { from } : {}),
      ...(to ? { to } : {}),
      ...(values.tenant !== undefined ? { tenant: values.tenant } : {}),
      ...(values.full ? { full: true } : {}),
      marginMs,
      allowOffsetGaps: values['allow-offset-gaps'] ?? extra.integrity?.verify_allow_offset_gaps ?? false,
      ...((values['require-retention-evidence'] ?? extra.integrity?.verify_require_retention_evidence) ? { requireRetentionEvidence: true } : {}),
      ...(maxFindings !== undefined ? { maxFindings } : {}),
      json: values.json ?? false,
      logLevel: cfg.log.level === 'info' ? 'warn' : cfg.log.level,
    });
  },
};
