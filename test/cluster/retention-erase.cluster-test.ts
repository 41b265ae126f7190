import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { apiDefaults, buildApi, createApiKey } from '@auditstream/api';
import { localDatabase } from '@auditstream/clickhouse';
import { createCodec } from '@auditstream/codec';
import { sleep, uuidv7 } from '@auditstream/core';
import { createLocalKeyWrapper, createSubjectKeyStore, type KeyWrapper, parseMasterKey } from '@auditstream/crypto';
import { createLogger, createMetricsRegistry } from '@auditstream/observability';
import { type AuditProducer, createAuditProducer } from '@auditstream/producer';
import { createEventNormalizer } from '@auditstream/schemas';
import { countStored, type IngestChild, runCli, spawnIngest, type TestEnv, verifyTestEnv, waitFor } from '@auditstream/test';
import type { FastifyInstance } from 'fastify';
import { startTestCluster, type TestCluster } from './fixture.js';

// Row maintenance on `stack up --cluster` (2 shards × 2 replicas, ClickHouse 18.16), run through the
// CLI as an operator runs it: events of two tenants, a month two years old and today, go through
// the real ingest; the API reads them (decrypting on the cluster) and `verify` is clean; then
// `retention apply` drops the old month on all four servers (verify: truncated, a warning), `erase`
// destroys one subject's key of one tenant on all four servers (reads say [erased], verify clean),
// and `keys rewrap` moves every key to a new master key on all four servers.

const PER = 12; // events per tenant, subject and age
const CACHE_TTL_MS = 300;
let cluster: TestCluster;
let env: TestEnv;
let ingest: IngestChild | undefined;
let producer: AuditProducer;
let keyDir: string;
let masterKeyFile: string;
let piiKey: string;
let tenants: [string, string];
const oldYear = new Date().getUTCFullYear() - 2;
const OLD_PARTITION = `${oldYear}01`;
const ids = new Map<string, string[]>(); // `${tenant}/${subject}` → event ids of today

const local = () => localDatabase(env.database);
const servers = () => cluster.layout.clickhouse;

/**
 * count() of a local table on each server (s1r1, s1r2, s2r1, s2r2), each after catching up with its
 * shard's log; `asIs`: without catching up, for what a command promises once it returns.
 */
async function perServer(tableName: string, where: string, final = '', asIs = false): Promise<number[]> {
  return Promise.all(
    servers().map(async (c) => {
      if (!asIs) await cluster.query(c.httpPort, `SYSTEM SYNC REPLICA ${local()}.${tableName}`);
      return Number(await cluster.query(c.httpPort, `SELECT count() FROM ${local()}.${tableName} ${final} WHERE ${where}`));
    }),
  );
}

/** The replicas of each shard agree; returns the total over the shards. */
function shardsTotal(counts: number[], what: string): number {
  const [s1r1, s1r2, s2r1, s2r2] = counts as [number, number, number, number];
  assert.equal(s1r1, s1r2, `${what}: shard 1 replicas agree (${counts.join(', ')})`);
  assert.equal(s2r1, s2r2, `${what}: shard 2 replicas agree (${counts.join(', ')})`);
  return s1r1 + s2r1;
}

function apiWith(wrapper: KeyWrapper): FastifyInstance {
  return buildApi({
    config: apiDefaults({ rate_limit_burst: 1000, rate_limit_per_s: 1000 }),
    clickhouse: env.ch,
    logger: createLogger({ service: 'api-test', level: 'silent' }),
    metrics: createMetricsRegistry({ service: 'api-test', defaultMetrics: false }),
    recordEvent: async () => {},
    fields: {
      store: createSubjectKeyStore({ ch: env.ch, wrapper, cacheTtlMs: CACHE_TTL_MS, cacheMaxEntries: 1000, readOnly: true }),
      mask: '***',
      erased: '[erased]',
    },
  });
}

/** Today's events of a tenant through the API (the Distributed tables), actor name by event id. */
async function namesViaApi(app: FastifyInstance, tenant: string): Promise<Map<string, string>> {
  const from = new Date(Date.now() - 3_600_000).toISOString();
  const to = new Date(Date.now() + 3_600_000).toISOString();
  const r = await app.inject({
    method: 'GET',
    url: `/v1/events?from=${from}&to=${to}&tenant=${tenant}&action=user.login&limit=200`,
    headers: { authorization: `Bearer ${piiKey}` },
  });
  assert.equal(r.statusCode, 200, r.body);
  return new Map((JSON.parse(r.body) as { data: { event_id: string; actor: { name: string } }[] }).data.map((e) => [e.event_id, e.actor.name]));
}

const input = (tenant: string, who: string) => ({
  tenant_id: tenant,
  actor: { id: who, type: 'user' as const, name: who === 'alice' ? 'Alice Liddell' : 'Bob Builder' },
  action: 'user.login',
  category: 'authentication' as const,
  outcome: 'success' as const,
  service: 'sso',
});

/** Today's events, through the SDK. */
async function publishToday(): Promise<void> {
  for (const tenant of tenants)
    for (const who of ['alice', 'bob'])
      for (let i = 0; i < PER; i++) {
        const event_id = uuidv7();
        ids.set(`${tenant}/${who}`, [...(ids.get(`${tenant}/${who}`) ?? []), event_id]);
        await producer.publish({ event_id, ...input(tenant, who) } as never);
      }
}

/**
 * Events of a month two years ago, as a producer of that time sent them: ingest judges an event's
 * age by its Kafka timestamp (a replay keeps its verdict), so the records carry their own time. The
 * SDK stamps the current time, so these are encoded the SDK's way and sent with kafkajs.
 */
async function publishOld(): Promise<void> {
  const normalize = createEventNormalizer();
  const codec = createCodec();
  const kp = env.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await kp.connect();
  try {
    const messages = tenants.flatMap((tenant) =>
      ['alice', 'bob'].flatMap((who) =>
        Array.from({ length: PER }, (_, i) => {
          const at = Date.UTC(oldYear, 0, 15, 12, 0, i);
          // The SDK's key (tenant:actor), so each partition holding old events also gets today's: the chain
          // then starts after the dropped rows (truncated), rather than being dropped whole.
          return { key: `${tenant}:${who}`, value: codec.encodeSync(normalize(input(tenant, who), at), env.topic), timestamp: String(at) };
        }),
      ),
    );
    await kp.send({ topic: env.topic, acks: -1, messages });
  } finally {
    await kp.disconnect();
  }
}

const operator = (extra: Record<string, string> = {}) => ({ ...env.env, ...extra });

before(async () => {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
  cluster = await startTestCluster();
  keyDir = mkdtempSync(join(tmpdir(), 'cluster-maint-'));
  masterKeyFile = join(keyDir, 'master.key');
  writeFileSync(masterKeyFile, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  env = await cluster.createEnv({
    partitions: 2,
    extraEnv: {
      AUDITSTREAM_ENCRYPTION__ENABLED: 'true',
      AUDITSTREAM_ENCRYPTION__MASTER_KEY_FILE: masterKeyFile,
      AUDITSTREAM_ENCRYPTION__FIELDS: 'actor.name',
      AUDITSTREAM_ENCRYPTION__KEY_CACHE_TTL_MS: String(CACHE_TTL_MS),
      AUDITSTREAM_INGEST__BATCH_MAX_AGE_MS: '200',
      // The old month's records carry their own (old) timestamps: time-based retention would drop them.
      AUDITSTREAM_TOPICS__RETENTION_MS: '-1',
    },
  });
  tenants = [env.tenant, `${env.tenant}_b`];
  producer = createAuditProducer({ kafka: env.kafka, topic: env.topic, linger_ms: 5 });
  await producer.connect();
  piiKey = (await createApiKey(env.ch, { role: 'auditor', tenants, pii: true })).key;
  ingest = spawnIngest(env.env);
});

after(async () => {
  await ingest?.stop();
  await producer?.close();
  await env?.cleanup().catch(() => {});
  if (keyDir) rmSync(keyDir, { recursive: true, force: true });
  await cluster?.stop();
});

test('two tenants, a month two years old and today, ingested into the cluster: the API reads and decrypts them, verify is clean', async () => {
  // The old month first, so that it is the start of each partition's chain (what retention removes).
  await publishOld();
  for (const t of tenants)
    await waitFor(
      `${t}: old events stored`,
      () => countStored(env.ch, t),
      (n) => n >= 2 * PER,
      240_000,
    );
  await publishToday();
  for (const t of tenants)
    await waitFor(
      `${t}: every event stored`,
      () => countStored(env.ch, t),
      (n) => n >= 4 * PER,
      240_000,
    );

  for (const t of tenants) assert.equal(shardsTotal(await perServer('events', `tenant_id = '${t}'`, 'FINAL'), `${t} events`), 4 * PER);
  const app = apiWith(createLocalKeyWrapper({ keys: [parseMasterKey(readFileSync(masterKeyFile, 'utf8'), 'test')] }));
  try {
    for (const t of tenants) {
      const names = await namesViaApi(app, t);
      assert.equal(names.size, 2 * PER, `${t}: today's events through the API`);
      assert.equal(names.get(ids.get(`${t}/alice`)?.[0] as string), 'Alice Liddell', 'decrypted on the cluster');
    }
  } finally {
    await app.close();
  }
  const report = await verifyTestEnv(env);
  assert.equal(report.ok, true, JSON.stringify(report.findings).slice(0, 2000));
});

test('retention apply drops the expired month on all four servers; verify reports the truncated chain as a warning only', async () => {
  const r = await runCli('retention', ['retention', 'apply'], operator(), 300_000);
  assert.equal(r.code, 0, r.output);
  assert.match(r.output, new RegExp(`drop events ${OLD_PARTITION}`));
  for (const t of tenants)
    assert.equal(shardsTotal(await perServer('events', `tenant_id = '${t}'`, 'FINAL'), `${t} events`), 2 * PER, "today's events are kept");
  // No server has a part of the month left, in events or in the tables that follow it.
  for (const c of servers()) {
    const left = await cluster.query(
      c.httpPort,
      `SELECT count() FROM system.parts WHERE database = '${local()}' AND partition_id = '${OLD_PARTITION}' AND active`,
    );
    assert.equal(Number(left), 0, `${c.name} holds no part of ${OLD_PARTITION}`);
  }
  const report = await verifyTestEnv(env);
  assert.equal(report.ok, true, JSON.stringify(report.findings).slice(0, 2000));
  assert.ok(
    report.findings.some((f) => f.kind === 'truncated' && f.severity === 'warning'),
    'the chain starts after the dropped rows (docs/integrity.md: retention is reported, not failed)',
  );
});

test("erase destroys one tenant's subject key on all four servers; reads say [erased], other tenants and subjects stay, verify is clean", async () => {
  const [a, b] = tenants;
  const keysOf = (t: string, who: string, asIs = false) => perServer('subject_keys', `tenant_id = '${t}' AND subject_id = '${who}'`, '', asIs);
  assert.ok(shardsTotal(await keysOf(a, 'alice'), 'alice keys in a') >= 1);
  const r = await runCli('erase', ['erase', '--subject', 'alice', '--tenant', a, '--reason', 'GDPR request 42'], operator(), 300_000);
  assert.equal(r.code, 0, r.output);
  assert.match(r.output, /Destroyed \d+ data key\(s\) of subject alice/);
  // erase returns once the delete is done on every replica: no catching up needed to see it.
  assert.deepEqual(await keysOf(a, 'alice', true), [0, 0, 0, 0], 'no server keeps the erased key');
  assert.ok(shardsTotal(await keysOf(b, 'alice'), 'alice keys in b') >= 1, 'the same subject in another tenant is untouched');
  assert.ok(shardsTotal(await keysOf(a, 'bob'), 'bob keys in a') >= 1);

  await sleep(CACHE_TTL_MS + 100);
  const app = apiWith(createLocalKeyWrapper({ keys: [parseMasterKey(readFileSync(masterKeyFile, 'utf8'), 'test')] }));
  try {
    const inA = await namesViaApi(app, a);
    for (const id of ids.get(`${a}/alice`) ?? []) assert.equal(inA.get(id), '[erased]');
    assert.equal(inA.get(ids.get(`${a}/bob`)?.[0] as string), 'Bob Builder');
    assert.equal((await namesViaApi(app, b)).get(ids.get(`${b}/alice`)?.[0] as string), 'Alice Liddell');
  } finally {
    await app.close();
  }
  const report = await verifyTestEnv(env);
  assert.equal(report.ok, true, JSON.stringify(report.findings).slice(0, 2000));
});

test('keys rewrap moves every data key to the new master key on all four servers; the erased key stays gone', async () => {
  const newKeyFile = join(keyDir, 'master-2.key');
  writeFileSync(newKeyFile, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  const newWrapper = createLocalKeyWrapper({ keys: [parseMasterKey(readFileSync(newKeyFile, 'utf8'), 'test')] });
  const live = shardsTotal(await perServer('subject_keys', '1'), 'keys');
  const r = await runCli(
    'keys',
    ['keys', 'rewrap'],
    operator({ AUDITSTREAM_ENCRYPTION__MASTER_KEY_FILE: newKeyFile, AUDITSTREAM_ENCRYPTION__PREVIOUS_MASTER_KEY_FILES: masterKeyFile }),
    300_000,
  );
  assert.equal(r.code, 0, r.output);
  assert.match(r.output, new RegExp(`Re-wrapped ${live} data key\\(s\\)`));
  assert.deepEqual(await perServer('subject_keys', `master_key_id != '${newWrapper.keyId}'`, '', true), [0, 0, 0, 0], 'no server keeps an old copy');
  assert.equal(shardsTotal(await perServer('subject_keys', `master_key_id = '${newWrapper.keyId}'`), 'new keys'), live, 'one copy per data key');
  assert.deepEqual(await perServer('subject_keys', `tenant_id = '${tenants[0]}' AND subject_id = 'alice'`), [0, 0, 0, 0], 'not resurrected');

  const app = apiWith(newWrapper);
  try {
    const inA = await namesViaApi(app, tenants[0]);
    assert.equal(inA.get(ids.get(`${tenants[0]}/bob`)?.[0] as string), 'Bob Builder', 'readable with the new master key alone');
    assert.equal(inA.get(ids.get(`${tenants[0]}/alice`)?.[0] as string), '[erased]');
  } finally {
    await app.close();
  }
  const report = await verifyTestEnv(env);
  assert.equal(report.ok, true, JSON.stringify(report.findings).slice(0, 2000));
});
