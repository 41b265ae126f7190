// One benchmark run's private world: its own topics, consumer groups, ClickHouse database,
// checkpoint-signing key and temp dir, and the AUDITSTREAM_* variables that point a service at them.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ClickHouse, createClickHouse, migrate } from '@auditstream/clickhouse';
import type { AuditstreamConfig, DeepReadonly } from '@auditstream/config';
import { uniqueName } from '@auditstream/core';
import { generateSigningKey } from '@auditstream/integrity';
import { createKafkaClient, deleteTopics, ensureTopics, withAdmin } from '@auditstream/kafka';
import type { Logger } from '@auditstream/observability';
import type { Kafka } from 'kafkajs';

export interface RunEnv {
  /** Unique per run: topic prefix, database, tenants. */
  id: string;
  topics: { events: string; dlq: string; checkpoints: string; alerts: string; anchor: string };
  groups: { ingest: string; alerting: string; anchor: string };
  database: string;
  /** Same schema (tables and lookup views), for the ClickHouse write limit and the Kafka-engine anchor. */
  limitDatabase: string;
  anchorDatabase: string;
  tenant: string;
  dir: string;
  kafka: Kafka;
  ch: ClickHouse;
  /** Environment for `auditstream ingest|alerting|api` children. */
  serviceEnv: Record<string, string>;
  cleanup(keep: boolean): Promise<void>;
}

export type AppConfig = DeepReadonly<AuditstreamConfig>;

export interface EnvDeps {
  config: AppConfig;
  logger: Logger;
  partitions: number;
  /** Migrate the run's three databases (default true); `--cluster` migrates its own per side, ON CLUSTER. */
  databases?: boolean;
}

export async function createRunEnv(deps: EnvDeps): Promise<RunEnv> {
  const id = uniqueName('bench');
  const base = id.replace(/_/g, '.');
  const topics = { events: base, dlq: `${base}.dlq`, checkpoints: `${base}.checkpoints`, alerts: `${base}.alerts`, anchor: `${base}.anchor` };
  const groups = { ingest: `${id}_ingest`, alerting: `${id}_alerting`, anchor: `${id}_anchor` };
  const database = id;
  const limitDatabase = `${id}_limit`;
  const anchorDatabase = `${id}_anchor`;
  const tenant = `${id}_t`;
  const dir = mkdtempSync(join(tmpdir(), 'auditstream-bench-'));
  const key = generateSigningKey();
  const keyFile = join(dir, 'private.pem');
  writeFileSync(keyFile, key.privatePem, { mode: 0o600 });
  const kafka = createKafkaClient(deps.config.kafka, { component: 'bench' });
  const ch = createClickHouse(
    { ...deps.config.clickhouse, database, request_timeout_ms: 600_000, max_execution_time_s: 600 },
    { logger: deps.logger, component: 'bench-clickhouse' },
  );
  await ensureTopics(kafka, {
    topics: Object.values(topics).map((name) => ({
      name,
      partitions: deps.partitions,
      replicationFactor: deps.config.topics.replication_factor,
    })),
  });
  if (deps.databases !== false) for (const d of [database, limitDatabase, anchorDatabase]) await migrate(ch, { database: d });
  const serviceEnv: Record<string, string> = {
    AUDITSTREAM_TOPICS__EVENTS: topics.events,
    AUDITSTREAM_TOPICS__DLQ: topics.dlq,
    AUDITSTREAM_TOPICS__CHECKPOINTS: topics.checkpoints,
    AUDITSTREAM_TOPICS__ALERTS: topics.alerts,
    AUDITSTREAM_TOPICS__PARTITIONS: String(deps.partitions),
    AUDITSTREAM_CLICKHOUSE__DATABASE: database,
    AUDITSTREAM_INGEST__GROUP_ID: groups.ingest,
    AUDITSTREAM_INGEST__METRICS_PORT: '0',
    AUDITSTREAM_INTEGRITY__SIGNING_KEY_FILE: keyFile,
    AUDITSTREAM_ALERTING__CONSUMER_GROUP: groups.alerting,
    AUDITSTREAM_ALERTING__METRICS_PORT: '0',
    AUDITSTREAM_ALERTING__WATCH_RULES: 'false',
    AUDITSTREAM_API__PORT: '0',
    // The query section measures latency, not the per-key rate limit.
    AUDITSTREAM_API__RATE_LIMIT_PER_S: '100000',
    AUDITSTREAM_API__RATE_LIMIT_BURST: '100000',
    AUDITSTREAM_LOG__LEVEL: 'info',
  };
  return {
    id,
    topics,
    groups,
    database,
    limitDatabase,
    anchorDatabase,
    tenant,
    dir,
    kafka,
    ch,
    serviceEnv,
    async cleanup(keep) {
      if (!keep) {
        // The anchor's Kafka table goes first, so ClickHouse stops consuming before its topic is deleted.
        for (const d of [anchorDatabase, limitDatabase, database]) await ch.command(`DROP DATABASE IF EXISTS ${d}`).catch(() => {});
        const runTopics = Object.values(topics);
        // Never thrown out of the clean-up (the run's figures matter more), but never silent: a topic left behind is said.
        await deleteTopics(kafka, runTopics).catch((err: unknown) =>
          deps.logger.warn({ topics: runTopics, err }, `bench topics not deleted: ${runTopics.join(', ')}`),
        );
        await withAdmin(kafka, (admin) => admin.deleteGroups(Object.values(groups))).catch(() => {});
      }
      await ch.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
