/**
 * The test environment of the flows through ingest, against the real Kafka and ClickHouse:
 * unique topics, group and database per test, the SDK to publish (@auditstream/workload's
 * sample events), the storage module's queries to count, and the real `auditstream ingest`
 * as a child process.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ClickHouse, createClickHouse, localDatabase, migrate } from '@auditstream/clickhouse';
import { type AuditstreamConfig, configSchema, type DeepReadonly, loadConfig } from '@auditstream/config';
import { uniqueName } from '@auditstream/core';
import { generateSigningKey, loadPublicKeys, type VerifyReport, type VerifyStoreOptions, verifyStore } from '@auditstream/integrity';
import { createKafkaClient, defaultTopicSpecs, deleteTopics, ensureTopics, withAdmin } from '@auditstream/kafka';
import { createLogger } from '@auditstream/observability';
import { countStored } from '@auditstream/workload';
import { type Kafka, Partitioners } from 'kafkajs';
import { type Child, spawnCli } from './cli.js';
import { waitFor } from './poll.js';

export interface TestEnv {
  /** AUDITSTREAM_* variables that point a service at this test's topics, group and database. */
  env: Record<string, string>;
  topic: string;
  dlq: string;
  /** The checkpoints topic (integrity), unique per test. */
  checkpoints: string;
  /** The signing key ingest gets (AUDITSTREAM_INTEGRITY__SIGNING_KEY_FILE), fresh per test; verify with publicPem. */
  signingKey: { privateKeyFile: string; publicKeyFile: string; publicPem: string; keyId: string };
  group: string;
  database: string;
  tenant: string;
  kafka: Kafka;
  ch: ClickHouse;
  config: DeepReadonly<AuditstreamConfig>;
  cleanup(): Promise<void>;
}

export const quietLogger = () => createLogger({ service: 'ingest-test', level: process.env.INGEST_TEST_LOG ?? 'silent' });

export async function createTestEnv(options: { partitions?: number; clickhouseUrl?: string; extraEnv?: Record<string, string> } = {}): Promise<TestEnv> {
  const topic = uniqueName('ingest_events').replace(/_/g, '.');
  const dlq = `${topic}.dlq`;
  const checkpoints = `${topic}.checkpoints`;
  const keyDir = mkdtempSync(join(tmpdir(), 'ingest-key-'));
  const pair = generateSigningKey();
  const signingKey = { privateKeyFile: join(keyDir, 'private.pem'), publicKeyFile: join(keyDir, 'public.pem'), publicPem: pair.publicPem, keyId: pair.keyId };
  writeFileSync(signingKey.privateKeyFile, pair.privatePem, { mode: 0o600 });
  writeFileSync(signingKey.publicKeyFile, pair.publicPem);
  const group = uniqueName('ingest_group');
  const database = uniqueName('ingest_db');
  const tenant = uniqueName('tenant');
  const env: Record<string, string> = {
    AUDITSTREAM_TOPICS__EVENTS: topic,
    AUDITSTREAM_TOPICS__DLQ: dlq,
    AUDITSTREAM_TOPICS__CHECKPOINTS: checkpoints,
    AUDITSTREAM_INTEGRITY__SIGNING_KEY_FILE: signingKey.privateKeyFile,
    AUDITSTREAM_TOPICS__PARTITIONS: String(options.partitions ?? 4),
    AUDITSTREAM_INGEST__GROUP_ID: group,
    AUDITSTREAM_INGEST__METRICS_PORT: '0',
    AUDITSTREAM_CLICKHOUSE__DATABASE: database,
    ...(options.clickhouseUrl ? { AUDITSTREAM_CLICKHOUSE__URL: options.clickhouseUrl } : {}),
    ...options.extraEnv,
  };
  const config = loadConfig(configSchema, { env: { ...process.env, ...env } });
  const logger = quietLogger();
  const kafka = createKafkaClient(config.kafka, { component: 'ingest-test' });
  const ch = createClickHouse(config.clickhouse, { logger });
  const wanted = new Set([topic, dlq, checkpoints]);
  await ensureTopics(kafka, { topics: defaultTopicSpecs(config.topics).filter((t) => wanted.has(t.name)) });
  await migrate(ch, { database, cluster: config.clickhouse.cluster });
  return {
    env,
    topic,
    dlq,
    checkpoints,
    signingKey,
    group,
    database,
    tenant,
    kafka,
    ch,
    config,
    async cleanup() {
      // A topic that cannot be deleted fails the test, after the rest is cleaned up.
      try {
        await deleteTopics(kafka, [topic, dlq, checkpoints]);
      } finally {
        await withAdmin(kafka, (admin) => admin.deleteGroups([group])).catch(() => {});
        // On a cluster the data is in `<db>_local` on every server and `<db>` (Distributed) is on every
        // server too: both dropped ON CLUSTER, the Distributed one first (it reads the local tables).
        const { cluster } = config.clickhouse;
        for (const db of cluster ? [database, localDatabase(database)] : [database])
          await ch.command(`DROP DATABASE IF EXISTS ${db}${cluster ? ` ON CLUSTER ${cluster}` : ''}`).catch(() => {});
        await ch.close();
        rmSync(keyDir, { recursive: true, force: true });
      }
    },
  };
}

/** Publishes n messages that are not events (ingest dead-letters them), round-robin over the partitions. */
export async function publishPoison(kafka: Kafka, topic: string, n: number, partitions: number): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    await producer.send({
      topic,
      acks: -1,
      messages: Array.from({ length: n }, (_, i) => ({ partition: i % partitions, value: Buffer.from(`not avro ${i}`) })),
    });
  } finally {
    await producer.disconnect();
  }
}

/** Rows as a query sees them after dedup (FINAL), and raw rows including not-yet-merged duplicates. */
export async function rowCounts(ch: ClickHouse, database: string, tenant: string): Promise<{ final: number; raw: number; distinct: number }> {
  const [r] = await ch.queryRows<{ raw: string; distinct: string }>(
    `SELECT count() AS raw, uniqExact(event_id) AS distinct FROM ${database}.events WHERE tenant_id = '${tenant}'`,
  );
  const [f] = await ch.queryRows<{ n: string }>(`SELECT count() AS n FROM ${database}.events FINAL WHERE tenant_id = '${tenant}'`);
  return { raw: Number(r?.raw ?? 0), distinct: Number(r?.distinct ?? 0), final: Number(f?.n ?? 0) };
}

/** Waits until at least `atLeast` distinct events of the test's tenant are stored (countStored). */
export async function waitForStored(
  env: Pick<TestEnv, 'ch' | 'tenant'>,
  atLeast: number,
  options: { what?: string; timeoutMs: number; everyMs?: number },
): Promise<number> {
  return waitFor(
    options.what ?? `${atLeast} events stored`,
    () => countStored(env.ch, env.tenant),
    (n) => n >= atLeast,
    options.timeoutMs,
    options.everyMs,
  );
}

/** `auditstream verify` over the test's topic, ingest group, checkpoints topic and signing key. */
export async function verifyTestEnv(
  env: Pick<TestEnv, 'ch' | 'kafka' | 'signingKey' | 'checkpoints' | 'group' | 'topic'>,
  options: Pick<VerifyStoreOptions, 'requireRetentionEvidence'> = {},
): Promise<VerifyReport> {
  return verifyStore({
    ...options,
    ch: env.ch,
    publicKeys: loadPublicKeys([env.signingKey.publicPem]),
    kafka: env.kafka,
    checkpointsTopic: env.checkpoints,
    ingestGroupId: env.group,
    topic: env.topic,
  });
}

export interface IngestChild extends Child {
  /** The /metrics URL once the service logged it. */
  metricsUrl(): Promise<string>;
  /** Peak resident set size so far, in bytes (VmHWM), while it runs. */
  peakRss(): number;
}

/** Runs the real `auditstream ingest` in a child process with the test's environment. */
export function spawnIngest(env: Record<string, string>): IngestChild {
  const child = spawnCli('ingest', ['ingest'], { AUDITSTREAM_LOG__LEVEL: process.env.INGEST_CHILD_LOG ?? 'info', ...env });
  let peak = 0;
  const sample = () => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.proc.pid}/status`, 'utf8'));
      if (m) peak = Math.max(peak, Number(m[1]) * 1024);
    } catch {}
  };
  const timer = setInterval(sample, 200);
  void child.exited.then(() => clearInterval(timer));
  return {
    ...child,
    peakRss: () => {
      sample();
      return peak;
    },
    async metricsUrl() {
      const found = await waitFor(
        'the metrics URL in the ingest log',
        async () => /"url":"(http:\/\/[^"]+)"[^\n]*serving \/metrics/.exec(child.output())?.[1],
        (v) => v !== undefined,
        60_000,
        100,
      );
      return found as string;
    },
  };
}

/** Reads one sample of a metric from a Prometheus text page (sum over label sets when no labels are given). */
export async function scrape(url: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+|NaN)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const ls = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => ls.includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}

/** Sum of the group's committed offsets on the topic (what a restart resumes from). */
export async function committedTotal(kafka: Kafka, group: string, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [t] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    return (t?.partitions ?? []).reduce((s, p) => s + Math.max(0, Number(p.offset)), 0);
  } finally {
    await admin.disconnect();
  }
}
