import { AuditstreamError, type MinimalLogger, retry } from '@auditstream/core';
import type { Admin, Kafka } from 'kafkajs';
import { withAdmin } from './offsets.js';
import { isRetriableKafkaError } from './retriable.js';

/** One topic auditstream needs. `configs` are Kafka topic configs (retention.ms, ...). */
export interface TopicSpec {
  name: string;
  partitions: number;
  replicationFactor: number;
  configs?: Readonly<Record<string, string | number>>;
}

/** The subset of the `topics` config section topic bootstrap reads (see @auditstream/config). */
export interface TopicsConfig {
  readonly events: string;
  readonly dlq: string;
  readonly alerts: string;
  readonly checkpoints: string;
  readonly partitions: number;
  readonly replication_factor: number;
  readonly retention_ms: number;
}

export interface EnsureTopicsOptions {
  topics: readonly TopicSpec[];
  logger?: Pick<MinimalLogger, 'info' | 'warn'>;
  /** Broker-side timeout of the create request, and how long to wait for leaders. Default 30000. */
  timeout_ms?: number;
}

export interface EnsureTopicsResult {
  created: string[];
  /** Topics that were already there, with their actual partition count (never altered). */
  existing: Array<{ name: string; partitions: number }>;
}

const TOPIC_NAME_RE = /^[a-zA-Z0-9._-]{1,249}$/;

/**
 * The topics auditstream uses, from the `topics` config section:
 * - events: the audit stream, `retention_ms` from config;
 * - dlq: poison messages, same retention as events so nothing leaves the DLQ before its peers;
 * - alerts: rule hits;
 * - checkpoints: signed integrity checkpoints, one partition (one ordered chain) and kept forever.
 * With replication ≥ 3, min.insync.replicas is 2 so acks=all survives one broker loss.
 */
export function defaultTopicSpecs(cfg: TopicsConfig, overrides: { partitions?: number; replication_factor?: number } = {}): TopicSpec[] {
  const partitions = overrides.partitions ?? cfg.partitions;
  const rf = overrides.replication_factor ?? cfg.replication_factor;
  const durability: Record<string, string> = rf >= 3 ? { 'min.insync.replicas': '2' } : {};
  return [
    { name: cfg.events, partitions, replicationFactor: rf, configs: { 'retention.ms': String(cfg.retention_ms), ...durability } },
    { name: cfg.dlq, partitions, replicationFactor: rf, configs: { 'retention.ms': String(cfg.retention_ms), ...durability } },
    { name: cfg.alerts, partitions, replicationFactor: rf, configs: { ...durability } },
    { name: cfg.checkpoints, partitions: 1, replicationFactor: rf, configs: { 'retention.ms': '-1', ...durability } },
  ];
}

/**
 * Creates the topics that do not exist yet (idempotent; brokers run with auto-creation off).
 * Existing topics are left as they are; a smaller partition count than asked is logged.
 * Failures name the topic and Kafka's error, e.g.
 *   Kafka refused to create topic "audit.events": INVALID_REPLICATION_FACTOR (Replication factor: 3 larger than available brokers: 1.)
 */
export async function ensureTopics(kafka: Kafka, options: EnsureTopicsOptions): Promise<EnsureTopicsResult> {
  const specs = options.topics;
  const seen = new Set<string>();
  for (const t of specs) {
    if (!TOPIC_NAME_RE.test(t.name) || t.name === '.' || t.name === '..') {
      throw new AuditstreamError('TOPIC_INVALID', `topic name "${t.name}" is not a legal Kafka topic name ([a-zA-Z0-9._-], at most 249 characters)`, {
        field: t.name,
      });
    }
    if (seen.has(t.name)) throw new AuditstreamError('TOPIC_INVALID', `topic "${t.name}" is listed twice`, { field: t.name });
    seen.add(t.name);
    if (!Number.isInteger(t.partitions) || t.partitions < 1) {
      throw new AuditstreamError('TOPIC_INVALID', `topic "${t.name}": partitions must be a positive integer`, { field: t.name });
    }
    if (!Number.isInteger(t.replicationFactor) || t.replicationFactor < 1) {
      throw new AuditstreamError('TOPIC_INVALID', `topic "${t.name}": replication factor must be a positive integer`, { field: t.name });
    }
  }
  const timeout = options.timeout_ms ?? 30_000;
  const admin = kafka.admin();
  try {
    await admin.connect();
  } catch (cause) {
    throw new AuditstreamError('KAFKA_UNAVAILABLE', `cannot reach the Kafka brokers to create topics: ${(cause as Error).message}`, { retriable: true, cause });
  }
  try {
    const present = new Set(await admin.listTopics());
    const missing = specs.filter((t) => !present.has(t.name));
    const existing = await describeExisting(
      admin,
      specs.filter((t) => present.has(t.name)),
      options.logger,
    );
    if (missing.length === 0) return { created: [], existing };
    const failures: string[] = [];
    const raced: string[] = [];
    try {
      await admin.createTopics({
        waitForLeaders: true,
        timeout,
        topics: missing.map((t) => ({
          topic: t.name,
          numPartitions: t.partitions,
          replicationFactor: t.replicationFactor,
          configEntries: Object.entries(t.configs ?? {}).map(([name, value]) => ({ name, value: String(value) })),
        })),
      });
    } catch (err) {
      const errors = (err as { errors?: Array<{ topic?: string; type?: string; message?: string }> }).errors;
      if (Array.isArray(errors) && errors.length > 0) {
        for (const e of errors) {
          if (e.type === 'TOPIC_ALREADY_EXISTS' && e.topic) raced.push(e.topic);
          else failures.push(`Kafka refused to create topic "${e.topic ?? '?'}": ${e.type ?? 'error'} (${e.message ?? 'no message'})`);
        }
      } else {
        const e = err as { type?: string; message?: string };
        failures.push(
          `Kafka refused to create topics ${missing.map((t) => `"${t.name}"`).join(', ')}: ${e.type ? `${e.type} (${e.message})` : (e.message ?? String(err))}`,
        );
      }
      if (failures.length > 0) {
        throw new AuditstreamError('TOPIC_CREATE_FAILED', failures.join('; '), { cause: err, details: { failures } });
      }
    }
    const created = missing.map((t) => t.name).filter((n) => !raced.includes(n));
    for (const t of missing) {
      if (created.includes(t.name)) options.logger?.info({ topic: t.name, partitions: t.partitions, replication_factor: t.replicationFactor }, 'topic created');
    }
    for (const name of raced) existing.push({ name, partitions: -1 });
    return { created, existing };
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

async function describeExisting(
  admin: Admin,
  specs: TopicSpec[],
  logger: Pick<MinimalLogger, 'info' | 'warn'> | undefined,
): Promise<Array<{ name: string; partitions: number }>> {
  if (specs.length === 0) return [];
  const { topics } = await admin.fetchTopicMetadata({ topics: specs.map((t) => t.name) });
  return specs.map((spec) => {
    const partitions = topics.find((t) => t.name === spec.name)?.partitions.length ?? -1;
    if (partitions >= 0 && partitions < spec.partitions) {
      logger?.warn(
        { topic: spec.name, partitions, wanted: spec.partitions },
        'topic exists with fewer partitions than configured; left unchanged (add partitions deliberately: it remaps keys)',
      );
    }
    return { name: spec.name, partitions };
  });
}

/**
 * Deletes topics and waits until the broker no longer lists them (absent ones count as deleted).
 * A busy broker can time a DeleteTopics out, or list the topic for a moment after answering, so
 * each round is retried while the failure is retriable: cleanup that leaves nothing behind under
 * load. Throws the last error after `attempts` rounds (at once when it is not retriable).
 */
export async function deleteTopics(kafka: Kafka, topics: readonly string[], options: { attempts?: number; timeoutMs?: number } = {}): Promise<void> {
  if (topics.length === 0) return;
  await retry(
    () =>
      withAdmin(kafka, async (admin) => {
        const listed = new Set(await admin.listTopics());
        const left = topics.filter((t) => listed.has(t));
        if (left.length === 0) return;
        await admin.deleteTopics({ topics: left, timeout: options.timeoutMs ?? 10_000 }).catch((err: unknown) => {
          if ((err as { type?: unknown })?.type !== 'UNKNOWN_TOPIC_OR_PARTITION') throw err;
        });
        const still = new Set(await admin.listTopics());
        const remaining = left.filter((t) => still.has(t));
        if (remaining.length > 0)
          throw new AuditstreamError('TOPIC_DELETE_PENDING', `topics still listed after deletion: ${remaining.join(', ')}`, { retriable: true });
      }),
    { max_attempts: options.attempts ?? 5, initial_delay_ms: 200, max_delay_ms: 2000, shouldRetry: isRetriableKafkaError },
  );
}
