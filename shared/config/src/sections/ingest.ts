import { CATEGORY_SYMBOLS, OUTCOME_SYMBOLS, SEVERITY_SYMBOLS } from '@auditstream/schemas';
import { z } from 'zod';
import { listenHost, port, positiveInt } from './common.js';

const MiB = 1024 * 1024;

const severity = z.enum(SEVERITY_SYMBOLS);

/** One severity rule: every condition given must match; the event's severity is raised to `severity`. */
export const severityRule = z.strictObject({
  category: z.enum(CATEGORY_SYMBOLS).optional().describe('Category the event must have.'),
  outcome: z.enum(OUTCOME_SYMBOLS).optional().describe('Outcome the event must have.'),
  action: z.string().min(1).optional().describe('Action the event must have: exact (user.delete), or a prefix ending in * (user.role.*), or * alone.'),
  severity: severity.describe('Severity given to matching events (never lowers what the emitter set).'),
});

/** A named custom redaction pattern; matches are replaced with `[redacted:<name>]`. */
export const redactPattern = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z][a-z0-9_]{0,31}$/, 'expected a short snake_case name')
    .describe('Name of the pattern, used in the replacement text and as a metric label.'),
  regex: z
    .string()
    .min(1)
    .refine((s) => {
      try {
        new RegExp(s, 'g');
        return true;
      } catch {
        return false;
      }
    }, 'not a valid JavaScript regular expression')
    .describe('JavaScript regular expression (no delimiters); every match is replaced.'),
});

export type SeverityRule = z.infer<typeof severityRule>;
export type RedactPattern = z.infer<typeof redactPattern>;

export const DEFAULT_SEVERITY_RULES: SeverityRule[] = [
  { category: 'authentication', outcome: 'failure', severity: 'low' },
  { category: 'authorization', outcome: 'denied', severity: 'medium' },
  { category: 'authorization', action: '*.grant', outcome: 'success', severity: 'medium' },
  { category: 'data_export', severity: 'medium' },
  { category: 'admin', outcome: 'denied', severity: 'high' },
];

/**
 * The ingest service (services/ingest): Kafka consumer → decode → validate → enrich →
 * batched INSERT into ClickHouse, with a dead-letter topic. Topic names come from `topics`.
 */
export const ingestSection = z
  .strictObject({
    group_id: z.string().min(1).default('auditstream-ingest').describe('Kafka consumer group shared by every ingest instance.'),
    batch_max_rows: positiveInt().default(50_000).describe('Flush the batch (one INSERT) when it holds this many rows.'),
    batch_max_bytes: positiveInt()
      .default(16 * MiB)
      .describe('Flush the batch when the Kafka messages it holds add up to this many bytes.'),
    batch_max_age_ms: positiveInt()
      .default(1000)
      .describe('Flush the batch when its oldest row has waited this long (within a large fetch round); a fetch also waits no longer than this.'),
    fetch_max_wait_ms: positiveInt()
      .default(250)
      .describe(
        'The longest a fetch waits on the broker for fetch_min_bytes (and at most batch_max_age_ms): at low traffic, about how long an event waits before ingest reads it (docs/ingest.md#latency).',
      ),
    fetch_min_bytes: positiveInt().default(MiB).describe('The broker answers a fetch once this many bytes are ready (or after fetch_max_wait_ms).'),
    fetch_max_bytes: positiveInt()
      .default(16 * MiB)
      .describe('Most bytes one fetch returns across partitions: with the batch limits, bounds what the service holds in memory.'),
    fetch_max_partition_bytes: positiveInt()
      .default(4 * MiB)
      .describe('Most bytes one fetch returns for one partition.'),
    memory_budget_bytes: positiveInt()
      .min(64 * MiB, 'expected at least 64 MiB (67108864): ingest alone needs about that much')
      .default(512 * MiB)
      .describe(
        'Resident memory ingest keeps under: at 3/4 of it, it stops decoding and fetching until what it holds is stored; caps fetch_max_bytes and batch_max_bytes at 1/64 of it (docs/ingest.md).',
      ),
    max_message_bytes: positiveInt().default(MiB).describe('Messages larger than this go to the dead-letter topic (error class oversize).'),
    partitions_consumed_concurrently: positiveInt()
      .default(32)
      .describe('Partition batches of one fetch processed at once; at least the partitions one instance owns, so a flush spans them all.'),
    session_timeout_ms: positiveInt().default(30_000).describe('Kafka group session timeout: a silent instance is evicted after this long.'),
    heartbeat_interval_ms: positiveInt().default(3000).describe('How often the consumer heartbeats, also while it waits on ClickHouse.'),
    rebalance_timeout_ms: positiveInt()
      .default(60_000)
      .describe('How long the group waits for members to rejoin (and so for this instance to flush and commit) during a rebalance.'),
    retry_initial_delay_ms: positiveInt().default(200).describe('First backoff delay when ClickHouse or the dead-letter topic fails transiently.'),
    retry_max_delay_ms: positiveInt().default(30_000).describe('Longest backoff delay; transient failures are retried for as long as the service runs.'),
    shutdown_timeout_ms: positiveInt()
      .default(30_000)
      .describe('On SIGTERM/SIGINT: how long to flush and commit before exiting anyway (uncommitted messages are redelivered).'),
    lag_refresh_ms: positiveInt()
      .default(5000)
      .describe('How often auditstream_ingest_consumer_lag is refreshed from the broker (high watermark minus committed offset).'),
    metrics_host: listenHost().describe('Address of the /metrics, /healthz and /readyz server.'),
    metrics_port: port().default(9464).describe('Port of the /metrics, /healthz and /readyz server (0 picks a free one).'),
    geo_enabled: z.boolean().default(true).describe('Add country and city from the offline GeoLite2 database shipped with geoip-lite (no network).'),
    user_agent_enabled: z.boolean().default(true).describe('Parse actor.user_agent into browser, OS and device type.'),
    severity_enabled: z.boolean().default(true).describe('Raise severity by the severity_rules.'),
    severity_rules: z
      .array(severityRule)
      .default(DEFAULT_SEVERITY_RULES)
      .describe('Rules matching category/outcome/action; the highest matching severity wins, never below the emitter\u2019s.'),
    redact_enabled: z.boolean().default(true).describe('Redact personal data and secrets before storage.'),
    redact_emails: z.boolean().default(true).describe('Replace e-mail addresses with [redacted:email].'),
    redact_bearer_tokens: z.boolean().default(true).describe('Replace bearer tokens and JWTs with [redacted:bearer].'),
    redact_card_numbers: z.boolean().default(true).describe('Replace Luhn-valid card numbers (13\u201319 digits) with [redacted:card].'),
    redact_patterns: z.array(redactPattern).default([]).describe('Custom patterns (name, regex) replaced with [redacted:<name>].'),
    redact_fields: z
      .array(z.enum(['reason', 'attributes', 'actor.name', 'resource.name']))
      .default(['reason', 'attributes', 'actor.name', 'resource.name'])
      .describe('Fields the patterns are applied to.'),
    redact_drop_attribute_keys: z.array(z.string().min(1)).default([]).describe('Attribute keys removed before storage (case-insensitive).'),
    redact_mask_attribute_keys: z
      .array(z.string().min(1))
      .default(['password', 'secret', 'token', 'api_key', 'authorization', 'cookie'])
      .describe('Attribute keys whose values are replaced with [redacted] (case-insensitive).'),
  })
  .prefault({});

export type IngestSection = z.infer<typeof ingestSection>;

/** How long a fetch waits on the broker: fetch_max_wait_ms, capped by batch_max_age_ms. */
export function fetchWaitMs(cfg: Pick<IngestSection, 'fetch_max_wait_ms' | 'batch_max_age_ms'>): number {
  return Math.min(cfg.fetch_max_wait_ms, cfg.batch_max_age_ms);
}
