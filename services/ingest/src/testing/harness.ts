/**
 * Helpers for ingest's integration tests and benchmark, against the real Kafka and
 * ClickHouse: unique topics, group and database per test, the SDK to publish, the
 * storage module's queries to count, and the real `auditstream ingest` as a child process.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ClickHouse, countEvents, createClickHouse, migrate } from '@auditstream/clickhouse';
import { repoRoot, sleep, uniqueName, uuidv7 } from '@auditstream/core';
import { generateSigningKey, loadPublicKeys, type VerifyReport, verifyStore } from '@auditstream/integrity';
import { createKafkaClient, defaultTopicSpecs, ensureTopics } from '@auditstream/kafka';
import { createLogger } from '@auditstream/observability';
import { createAuditProducer, type PublishInput } from '@auditstream/producer';
import { type Kafka, Partitioners } from 'kafkajs';
import { loadIngestConfig } from '../config.js';
import { type IngestIntegrityDeps, integrityFromConfig } from '../integrity.js';

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
  config: ReturnType<typeof loadIngestConfig>;
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
  const config = loadIngestConfig({ env: { ...process.env, ...env } });
  const logger = quietLogger();
  const kafka = createKafkaClient(config.kafka, { component: 'ingest-test' });
  const ch = createClickHouse(config.clickhouse, { logger });
  const wanted = new Set([topic, dlq, checkpoints]);
  await ensureTopics(kafka, { topics: defaultTopicSpecs(config.topics).filter((t) => wanted.has(t.name)) });
  await migrate(ch, { database });
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
      const admin = kafka.admin();
      await admin.connect();
      await admin.deleteTopics({ topics: [topic, dlq, checkpoints] }).catch(() => {});
      await admin.deleteGroups([group]).catch(() => {});
      await admin.disconnect();
      await ch.command(`DROP DATABASE IF EXISTS ${database}`).catch(() => {});
      await ch.close();
      rmSync(keyDir, { recursive: true, force: true });
    },
  };
}

/** createIngest's integrity deps for an in-process ingest: the test's signing key, and a ClickHouse client. */
export function ingestIntegrity(env: Pick<TestEnv, 'config'>, ch: ClickHouse): IngestIntegrityDeps {
  const deps = integrityFromConfig(env.config.integrity, ch);
  if (!deps) throw new Error('integrity is off in this test environment');
  return deps;
}

const UAS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1',
];
const IPS = ['81.2.69.142', '8.8.8.8', '2a02:8070::1', '10.0.0.7'];

/** A realistic event: geo-resolvable IPs, real user agents, an e-mail in reason for redaction. */
export function sampleInput(tenant: string, i: number): PublishInput & { event_id: string } {
  return {
    event_id: uuidv7(),
    tenant_id: tenant,
    actor: { id: `user-${i % 997}`, type: 'user', name: `User ${i % 997}`, ip: IPS[i % IPS.length] as string, user_agent: UAS[i % UAS.length] as string },
    action: i % 10 === 0 ? 'auth.login' : 'document.read',
    category: i % 10 === 0 ? 'authentication' : 'resource_access',
    outcome: i % 10 === 0 ? 'failure' : 'success',
    reason: i % 10 === 0 ? `bad password for user${i}@example.com` : null,
    service: 'bench',
    resource: { type: 'document', id: `doc-${i % 5000}`, name: null },
    attributes: { seq: String(i), http_method: 'GET' },
  };
}

/** Publishes n events through the SDK (acks=all) and returns their ids. */
export async function publishEvents(kafka: Kafka, topic: string, tenant: string, n: number, from = 0): Promise<string[]> {
  const producer = createAuditProducer({ kafka, topic, max_buffer_events: 50_000, linger_ms: 5 });
  await producer.connect();
  const ids: string[] = [];
  const chunk = 5000;
  try {
    for (let start = from; start < from + n; start += chunk) {
      const batch = Array.from({ length: Math.min(chunk, from + n - start) }, (_, k) => sampleInput(tenant, start + k));
      for (const e of batch) ids.push(e.event_id);
      await producer.publishMany(batch);
    }
  } finally {
    await producer.close();
  }
  return ids;
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

const ALL_TIME = { from: 0, to: 4_000_000_000_000_000 };

/** The project's count query: distinct event ids (uniqExact). */
export async function countStored(ch: ClickHouse, tenant: string): Promise<number> {
  return countEvents(ch, { tenant_id: tenant, ...ALL_TIME });
}

/** Rows as a query sees them after dedup (FINAL), and raw rows including not-yet-merged duplicates. */
export async function rowCounts(ch: ClickHouse, database: string, tenant: string): Promise<{ final: number; raw: number; distinct: number }> {
  const [r] = await ch.queryRows<{ raw: string; distinct: string }>(
    `SELECT count() AS raw, uniqExact(event_id) AS distinct FROM ${database}.events WHERE tenant_id = '${tenant}'`,
  );
  const [f] = await ch.queryRows<{ n: string }>(`SELECT count() AS n FROM ${database}.events FINAL WHERE tenant_id = '${tenant}'`);
  return { raw: Number(r?.raw ?? 0), distinct: Number(r?.distinct ?? 0), final: Number(f?.n ?? 0) };
}

export async function waitFor<T>(what: string, fn: () => Promise<T>, until: (v: T) => boolean, timeoutMs: number, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await fn();
    if (until(last)) return last;
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
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
export async function verifyTestEnv(env: Pick<TestEnv, 'ch' | 'kafka' | 'signingKey' | 'checkpoints' | 'group' | 'topic'>): Promise<VerifyReport> {
  return verifyStore({
    ch: env.ch,
    publicKeys: loadPublicKeys([env.signingKey.publicPem]),
    kafka: env.kafka,
    checkpointsTopic: env.checkpoints,
    ingestGroupId: env.group,
    topic: env.topic,
  });
}

export interface IngestChild {
  proc: ChildProcess;
  /** Resolves with the exit code (or the signal name). */
  exited: Promise<number | string>;
  /** stdout+stderr so far (JSON log lines). */
  output(): string;
  /** The /metrics URL once the service logged it. */
  metricsUrl(): Promise<string>;
  /** Peak resident set size so far, in bytes (VmHWM), while it runs. */
  peakRss(): number;
}

/** Runs the real `auditstream ingest` in a child process with the test's environment. */
export function spawnIngest(env: Record<string, string>): IngestChild {
  const bin = join(repoRoot(), 'services', 'cli', 'bin', 'auditstream.js');
  const proc = spawn(process.execPath, [bin, 'ingest'], {
    env: { ...process.env, AUDITSTREAM_LOG__LEVEL: process.env.INGEST_CHILD_LOG ?? 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout?.on('data', (d) => {
    out += String(d);
  });
  proc.stderr?.on('data', (d) => {
    out += String(d);
  });
  const exited = new Promise<number | string>((resolve) => proc.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  let peak = 0;
  const sample = () => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'));
      if (m) peak = Math.max(peak, Number(m[1]) * 1024);
    } catch {}
  };
  const timer = setInterval(sample, 200);
  void exited.then(() => clearInterval(timer));
  return {
    proc,
    exited,
    output: () => out,
    peakRss: () => {
      sample();
      return peak;
    },
    async metricsUrl() {
      const found = await waitFor(
        'the metrics URL in the ingest log',
        async () => /"url":"(http:\/\/[^"]+)"[^\n]*serving \/metrics/.exec(out)?.[1],
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
