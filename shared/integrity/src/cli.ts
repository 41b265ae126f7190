import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ClickHouseConfig, createClickHouse } from '@auditstream/clickhouse';
import { AuditstreamError } from '@auditstream/core';
import { createKafkaClient, type KafkaClientConfig } from '@auditstream/kafka';
import { createLogger } from '@auditstream/observability';
import { CHAIN_FORMATS } from './entry.js';
import { generateSigningKey, loadPublicKeyFiles } from './keys.js';
import type { EntryFormatCounts, Finding } from './partition-verifier.js';
import { type VerifyProgress, type VerifyReport, type VerifyStoreOptions, verifyStore } from './verify-store.js';

/**
 * What the `auditstream verify` and `auditstream keys` commands (services/cli) run, once they have
 * parsed their options and read the configuration. Kept here so the CLI holds no logic.
 */

/** The command's selection and limits are verifyStore's own options, passed through. */
type VerifySelection = Pick<
  VerifyStoreOptions,
  'topic' | 'partitions' | 'from' | 'to' | 'tenant' | 'full' | 'marginMs' | 'allowOffsetGaps' | 'requireRetentionEvidence' | 'maxFindings'
>;

export interface VerifyCommandInput extends VerifySelection {
  clickhouse: ClickHouseConfig;
  /** Omitted: Kafka is not consulted (--no-kafka). */
  kafka?: KafkaClientConfig;
  checkpointsTopic: string;
  ingestGroupId?: string;
  publicKeyPaths: readonly string[];
  json?: boolean;
  logLevel?: string;
  /** Where the human report and JSON go (stdout) and progress (stderr). */
  out?: (text: string) => void;
  err?: (text: string) => void;
}

/** Exit codes: 0 verified, 1 integrity errors found, 3 the verification could not run to the end. */
export const VERIFY_EXIT = { ok: 0, findings: 1, failed: 3 } as const;

export async function runVerifyCommand(input: VerifyCommandInput): Promise<number> {
  const out = input.out ?? ((t: string) => process.stdout.write(`${t}\n`));
  const err = input.err ?? ((t: string) => process.stderr.write(`${t}\n`));
  if (input.publicKeyPaths.length === 0)
    throw new AuditstreamError('USAGE', 'no public key: pass --public-key <file|dir> (or set integrity.public_key_files)', { field: 'public-key' });
  const publicKeys = loadPublicKeyFiles(input.publicKeyPaths);
  if (publicKeys.size === 0) throw new AuditstreamError('USAGE', 'no public key found in the given --public-key paths', { field: 'public-key' });
  const {
    clickhouse: _ch,
    kafka: _kafka,
    checkpointsTopic: _topic,
    ingestGroupId: _group,
    publicKeyPaths: _keys,
    json: _json,
    logLevel: _level,
    out: _out,
    err: _err,
    ...selection
  } = input;
  const logger = createLogger({ service: 'cli', level: input.logLevel ?? 'warn' });
  const ch = createClickHouse(input.clickhouse, { logger, component: 'verify' });
  const kafka = input.kafka ? createKafkaClient(input.kafka, { component: 'verify', logger: logger.child({ component: 'verify.kafka' }) }) : undefined;
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once('SIGINT', onSignal);
  let report: VerifyReport;
  try {
    err(`verifying ${input.clickhouse.database} with ${publicKeys.size} public key${publicKeys.size === 1 ? '' : 's'} (${[...publicKeys.keys()].join(', ')})`);
    report = await verifyStore({
      ch,
      publicKeys,
      ...(kafka ? { kafka } : {}),
      checkpointsTopic: input.checkpointsTopic,
      ...(input.ingestGroupId ? { ingestGroupId: input.ingestGroupId } : {}),
      ...selection,
      onProgress: (p) => err(progressLine(p)),
      progressEveryMs: 2000,
      signal: abort.signal,
    });
  } catch (e) {
    err(`auditstream verify: could not complete: ${(e as Error).message}`);
    return VERIFY_EXIT.failed;
  } finally {
    process.removeListener('SIGINT', onSignal);
    await ch.close().catch(() => {});
  }
  if (input.json) out(JSON.stringify(report, null, 2));
  else out(formatReport(report));
  return report.ok ? VERIFY_EXIT.ok : VERIFY_EXIT.findings;
}

const int = (n: number) => n.toLocaleString('en-US');

function progressLine(p: VerifyProgress): string {
  const where = `${p.topic}[${p.partition}]`;
  return p.done
    ? `  ${where} done; ${int(p.total_rows)} rows so far, ${int(p.events_per_second)} events/s`
    : `  ${where}: ${int(p.rows)} rows, ${int(p.total_rows)} in total, ${int(p.events_per_second)} events/s`;
}

function findingLine(f: Finding): string {
  const where = `${f.topic ?? '?'}[${f.partition}]${f.offset !== undefined ? ` offset ${f.offset}` : ''}`;
  const ev = f.event_id ? ` event ${f.event_id}` : '';
  return `  ${f.severity.padEnd(7)} ${f.kind.padEnd(24)} ${where}${ev}: ${f.detail}`;
}

/** The human report printed by `auditstream verify` without --json. */
export function formatReport(r: VerifyReport): string {
  const lines: string[] = [];
  const scope = [
    `database ${r.scope.database}`,
    r.scope.topic ? `topic ${r.scope.topic}` : undefined,
    r.scope.partitions ? `partitions ${r.scope.partitions.join(',')}` : undefined,
    r.scope.from || r.scope.to ? `occurred_at [${r.scope.from ?? '…'}, ${r.scope.to ?? '…'}) ${r.scope.mode}` : undefined,
    r.scope.tenant !== undefined ? `tenant ${r.scope.tenant}` : undefined,
  ].filter(Boolean);
  lines.push(
    `Verified ${scope.join(', ')}: ${r.partitions.length} partition${r.partitions.length === 1 ? '' : 's'}, ${int(r.rows)} rows (${int(r.entries)} chain entries${formats(r.entry_formats)}, ${int(r.duplicates)} re-delivered copies${r.event_id_conflicts > 0 ? `, ${int(r.event_id_conflicts)} event ids carried by conflicting messages` : ''}) in ${(r.duration_ms / 1000).toFixed(1)} s, ${int(r.events_per_second)} events/s`,
  );
  lines.push(
    `Checkpoints: table${r.sources.checkpoints_topic ? ` and topic ${r.sources.checkpoints_topic} (${int(r.sources.checkpoints_topic_messages ?? 0)} messages)` : ' only'}${r.sources.ingest_group ? `; committed offsets of group ${r.sources.ingest_group}` : ''}`,
  );
  for (const p of r.partitions) {
    const span = p.span.from_offset || p.span.to_offset ? ` span ${p.span.from_offset ?? 'start'}..${p.span.to_offset ?? 'end'}` : '';
    lines.push(
      `  ${p.topic}[${p.partition}]  ${int(p.entries)} entries${formats(p.entry_formats)}, offsets ${p.first_offset ?? '-'}..${p.last_offset ?? '-'}, chain_seq ${p.chain_seq ?? '-'}, head ${p.chain_head ? `${p.chain_head.slice(0, 16)}…` : '-'}, checkpoints ${p.checkpoints_matched}/${p.checkpoints} matched${span}`,
    );
  }
  for (const n of r.notes) lines.push(`Note: ${n}`);
  if (r.findings.length === 0) {
    lines.push('OK: every chain links, every row matches its hash, every checkpoint verifies.');
    return lines.join('\n');
  }
  lines.push(
    r.ok
      ? `OK with ${r.warnings} warning${r.warnings === 1 ? '' : 's'}:`
      : `FAILED: ${r.errors} error${r.errors === 1 ? '' : 's'}, ${r.warnings} warning${r.warnings === 1 ? '' : 's'}`,
  );
  if (r.first_error) lines.push(`First broken link:\n${findingLine(r.first_error)}`, 'All findings:');
  for (const f of r.findings) lines.push(findingLine(f));
  const dropped = r.partitions.reduce((a, p) => a + p.findings_dropped, 0);
  if (dropped > 0) lines.push(`  … and ${dropped} more (raise --max-findings)`);
  return lines.join('\n');
}

/** ' (format 2)' when every intact entry is of one format, ' (format 1: 40, format 2: 60)' for a mix, '' for none. */
function formats(f: EntryFormatCounts): string {
  const used = CHAIN_FORMATS.filter((k) => f[k] > 0);
  if (used.length === 0) return '';
  if (used.length === 1) return ` (format ${used[0]})`;
  return ` (${used.map((k) => `format ${k}: ${int(f[k])}`).join(', ')})`;
}

export interface KeysGenerateResult {
  keyId: string;
  privateKeyFile: string;
  publicKeyFile: string;
}

/**
 * Writes a new Ed25519 key pair: `<outDir>/private.pem` (PKCS#8, mode 0600, never overwritten)
 * and `<outDir>/public.pem` (SPKI). Returns the key id checkpoints will carry.
 */
export function generateKeyFiles(outDir: string, options: { force?: boolean } = {}): KeysGenerateResult {
  mkdirSync(outDir, { recursive: true, mode: 0o700 });
  const pair = generateSigningKey();
  const privateKeyFile = join(outDir, 'private.pem');
  const publicKeyFile = join(outDir, 'public.pem');
  const flag = options.force ? 'w' : 'wx';
  if (!options.force && (existsSync(privateKeyFile) || existsSync(publicKeyFile)))
    throw new AuditstreamError('KEYS_EXIST', `a key already exists in ${outDir}: choose another --out-dir (or --force to replace it)`, { field: 'out-dir' });
  try {
    writeFileSync(privateKeyFile, pair.privatePem, { mode: 0o600, flag });
    chmodSync(privateKeyFile, 0o600);
    writeFileSync(publicKeyFile, pair.publicPem, { mode: 0o644, flag });
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'EEXIST')
      throw new AuditstreamError('KEYS_EXIST', `a key already exists in ${outDir}: choose another --out-dir (or --force to replace it)`, {
        cause,
        field: 'out-dir',
      });
    throw new AuditstreamError('KEYS_WRITE_FAILED', `cannot write the key files in ${outDir}: ${(cause as Error).message}`, { cause, field: 'out-dir' });
  }
  return { keyId: pair.keyId, privateKeyFile, publicKeyFile };
}
