// The console's API against the real stack: events ingested by the real `auditstream
// ingest` (chained, checkpoints signed), ClickHouse 18.16, keys in audit.api_keys. The API runs
// in-process (inject); its self-audit events are collected in memory.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { uniqueName } from '@auditstream/core';
import { clickhouseIntegrityStore, GENESIS_CHECKPOINT_HASH, generateSigningKey, loadPublicKeys, loadSigningKey, signCheckpoint } from '@auditstream/integrity';
import { createMetricsRegistry } from '@auditstream/observability';
import {
  createTestEnv,
  freePort,
  type IngestChild,
  publishEvents,
  publishPoison,
  scrape,
  spawnIngest,
  type TestEnv,
  waitFor,
  waitForStored,
} from '@auditstream/test';
import type { FastifyInstance } from 'fastify';
import { createApiKey } from './api-keys.js';
import { buildApi } from './app.js';
import { type ApiConfig, apiDefaults } from './config.js';
import { testLogger } from './int.test-helper.js';
import { createPipelineHealth } from './pipeline-health.js';
import type { SelfAuditEvent } from './plugins/audit-self.js';
import { createStoreVerifier } from './store-verifier.js';

let env: TestEnv;
let ingest: IngestChild;
let app: FastifyInstance;
const audited: SelfAuditEvent[] = [];
const keys = { admin: '', own: '', other: '', service: '' };
let other: string;
/** Covered by a signed checkpoint. */
let signed: string[] = [];
/** Stored after the last checkpoint (fewer than checkpoint_every_events, long interval). */
let late: string[] = [];
let otherIds: string[] = [];

export function consoleConfig(over: Parameters<typeof apiDefaults>[0] = {}): ApiConfig {
  return apiDefaults({
    port: 0,
    api_key_cache_ttl_ms: 0,
    rate_limit_burst: 1_000_000,
    rate_limit_per_s: 1_000_000,
    unauthenticated_rate_limit_per_s: 1_000_000,
    self_audit_refusals_per_s: 1_000_000,
    ...over,
  });
}

async function maxCheckpointed(): Promise<number> {
  const [r] = await env.ch.queryRows<{ n: string; o: string }>(
    `SELECT count() AS n, toString(max(last_offset)) AS o FROM ${env.database}.checkpoints WHERE topic = '${env.topic}'`,
  );
  return Number(r?.n ?? 0) > 0 ? Number(r?.o) : -1;
}

async function maxOffset(): Promise<number> {
  const [r] = await env.ch.queryRows<{ o: string }>(`SELECT toString(max(kafka_offset)) AS o FROM ${env.database}.events`);
  return Number(r?.o ?? -1);
}

before(async () => {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
  env = await createTestEnv({ partitions: 1 });
  other = uniqueName('tenant_other');
  // First an ingest that signs a checkpoint a second after new rows: every event gets covered.
  const first = spawnIngest({ ...env.env, AUDITSTREAM_INTEGRITY__CHECKPOINT_INTERVAL_MS: '1000' });
  signed = await publishEvents(env.kafka, env.topic, env.tenant, 20);
  otherIds = await publishEvents(env.kafka, env.topic, other, 10);
  await waitForStored(env, signed.length, { timeoutMs: 120_000 });
  await waitFor('every stored event covered by a signed checkpoint', async () => (await maxOffset()) === 29 && (await maxCheckpointed()) === 29, 120_000);
  first.proc.kill('SIGTERM');
  await first.exited;
  // Then one that signs only after an hour or 10,000 events: the late events stay uncovered.
  ingest = spawnIngest({ ...env.env, AUDITSTREAM_INTEGRITY__CHECKPOINT_INTERVAL_MS: '3600000', AUDITSTREAM_INTEGRITY__CHECKPOINT_EVERY_EVENTS: '10000' });
  late = await publishEvents(env.kafka, env.topic, env.tenant, 3, 1000);
  await waitForStored(env, signed.length + late.length, { timeoutMs: 120_000 });
  keys.admin = (await createApiKey(env.ch, { role: 'admin', tenants: [] })).key;
  keys.own = (await createApiKey(env.ch, { role: 'auditor', tenants: [env.tenant] })).key;
  keys.other = (await createApiKey(env.ch, { role: 'auditor', tenants: [other] })).key;
  keys.service = (await createApiKey(env.ch, { role: 'service', tenants: [env.tenant] })).key;
  app = buildApi({
    config: consoleConfig(),
    clickhouse: env.ch,
    logger: testLogger,
    metrics: createMetricsRegistry({ service: 'api-console-int', defaultMetrics: false }),
    recordEvent: async (e) => {
      audited.push(e);
    },
    verify: createStoreVerifier({
      ch: env.ch,
      publicKeys: loadPublicKeys([env.signingKey.publicPem]),
      checkpointsTopic: env.checkpoints,
      eventsTopic: env.topic,
    }),
  });
});

after(async () => {
  await app?.close();
  ingest?.proc.kill('SIGTERM');
  await ingest?.exited;
  await env?.cleanup();
});

async function call(method: 'GET' | 'POST' | 'DELETE', url: string, key: string, payload?: unknown) {
  const r = await app.inject({ method, url, headers: { authorization: `Bearer ${key}` }, ...(payload !== undefined ? { payload: payload as object } : {}) });
  // biome-ignore lint/suspicious/noExplicitAny: the answers are checked field by field
  return { status: r.statusCode, headers: r.headers, json: () => JSON.parse(r.body) as Record<string, any> };
}

describe('GET /v1/events/{id}/verify', () => {
  test('an event under a signed checkpoint is verified: its place in the chain, its links and the checkpoint', async () => {
    const id = signed[3] as string;
    const r = await call('GET', `/v1/events/${id}/verify`, keys.own);
    assert.equal(r.status, 200, JSON.stringify(r.json()));
    const v = r.json();
    assert.equal(v.status, 'verified', v.reason);
    assert.equal(v.reason, null);
    assert.equal(v.event_id, id);
    assert.equal(v.tenant_id, env.tenant);
    assert.equal(v.chain.topic, env.topic);
    assert.equal(v.chain.partition, 0);
    assert.match(v.chain.hash, /^[0-9a-f]{64}$/);
    assert.equal(v.chain.computed_hash, v.chain.hash);
    assert.equal(v.link.content_matches_hash, true);
    assert.equal(v.link.next.linked, true);
    assert.equal(v.link.next.prev_hash, v.chain.hash);
    assert.ok(v.checkpoint && v.checkpoint.matches === true);
    assert.ok(BigInt(v.checkpoint.last_offset) >= BigInt(v.chain.offset));
    // Proven by an inclusion proof in the latest signed tree head, not by a walk of the rows after it.
    assert.equal(v.span.to_offset, v.chain.offset);
    assert.deepEqual(v.findings, []);
    const rec = audited.at(-1);
    assert.equal(rec?.resource?.type, 'audit_event_verification');
    assert.equal(rec?.attributes.verification, 'verified');
  });

  test('an event stored after the last checkpoint is unverified_yet', async () => {
    const v = (await call('GET', `/v1/events/${late[1]}/verify`, keys.admin)).json();
    assert.equal(v.status, 'unverified_yet');
    assert.equal(v.checkpoint, null);
    assert.equal(v.link.content_matches_hash, true);
  });

  test('another tenant\u2019s key gets 404 (same as a missing event); a service key is refused', async () => {
    assert.equal((await call('GET', `/v1/events/${signed[0]}/verify`, keys.other)).status, 404);
    assert.equal((await call('GET', `/v1/events/${signed[0]}/verify?tenant=${env.tenant}`, keys.other)).status, 403);
    assert.equal((await call('GET', `/v1/events/${otherIds[0]}/verify`, keys.other)).status, 200);
    assert.equal((await call('GET', `/v1/events/${signed[0]}/verify`, keys.service)).status, 403);
  });

  test('a field changed in ClickHouse (ALTER TABLE … UPDATE) turns the event tampered; a later span is untouched', async () => {
    const id = signed[5] as string;
    await env.ch.command(`ALTER TABLE ${env.database}.events UPDATE actor_name = 'Mallory' WHERE event_id = toUUID('${id}')`);
    await waitFor(
      'the mutation to finish',
      async () => {
        const [r] = await env.ch.queryRows<{ n: string }>(`SELECT count() AS n FROM system.mutations WHERE database = '${env.database}' AND is_done = 0`);
        return Number(r?.n ?? 1) === 0;
      },
      60_000,
    );
    const v = (await call('GET', `/v1/events/${id}/verify`, keys.own)).json();
    assert.equal(v.status, 'tampered');
    assert.match(v.reason, /does not match its stored hash/);
    assert.equal(v.link.content_matches_hash, false);
    assert.notEqual(v.chain.computed_hash, v.chain.hash);
    assert.ok(v.findings.some((f: { kind: string; this_event: boolean }) => f.kind === 'modified' && f.this_event));
    // Beyond the span its checkpoint proves, nothing changes.
    assert.equal((await call('GET', `/v1/events/${late[0]}/verify`, keys.own)).json().status, 'unverified_yet');
  });

  test('a checkpoint signed with an untrusted key over uncovered events makes them tampered (forged), not verified', async () => {
    const head = (await call('GET', `/v1/events/${late[2]}/verify`, keys.admin)).json();
    const rogue = loadSigningKey(generateSigningKey().privatePem, 'rogue');
    await clickhouseIntegrityStore(env.ch).insertCheckpoint(
      signCheckpoint(rogue, {
        topic: env.topic,
        partition: 0,
        last_offset: head.chain.offset,
        chain_seq: head.chain.chain_seq,
        chain_head: head.chain.hash,
        created_at_s: Math.floor(Date.now() / 1000),
        prev_checkpoint_hash: GENESIS_CHECKPOINT_HASH,
      }),
    );
    const v = (await call('GET', `/v1/events/${late[0]}/verify`, keys.own)).json();
    assert.equal(v.status, 'tampered');
    assert.match(v.reason, /not a trusted key/);
    assert.equal(v.checkpoint, null);
  });
});

describe('viewer tokens', () => {
  const range = () => `from=${new Date(Date.now() - 3_600_000).toISOString()}&to=${new Date(Date.now() + 3_600_000).toISOString()}`;
  let token = '';
  let tokenId = '';

  before(async () => {
    const r = await call('POST', '/v1/viewer-tokens', keys.service, { tenant: env.tenant, ttl_s: 600, filters: { actor_id: 'user-3' } });
    assert.equal(r.status, 201, JSON.stringify(r.json()));
    ({ token, token_id: tokenId } = r.json());
    assert.match(token, /^avt_/);
    assert.match(tokenId, /^vt_[0-9a-f]{16}$/);
    assert.equal(r.json().ttl_s, 600);
  });

  test('minting: admin or service for its own tenants, ttl bounded by api.viewer_token_max_ttl_s', async () => {
    assert.equal((await call('POST', '/v1/viewer-tokens', keys.admin, { tenant: other })).status, 201);
    assert.equal((await call('POST', '/v1/viewer-tokens', keys.service, { tenant: other })).status, 403);
    assert.equal((await call('POST', '/v1/viewer-tokens', keys.own, { tenant: env.tenant })).status, 403);
    const long = await call('POST', '/v1/viewer-tokens', keys.admin, { tenant: env.tenant, ttl_s: 3601 });
    assert.equal(long.status, 400);
    assert.equal(long.json().errors[0].parameter, 'ttl_s');
    assert.equal((await call('POST', '/v1/viewer-tokens', keys.admin, { tenant: env.tenant, filters: { tenant_id: 'x' } })).status, 400);
    assert.equal((await call('POST', '/v1/viewer-tokens', token, { tenant: env.tenant })).status, 403);
  });

  test('search, stats and event reads are narrowed to the tenant and the fixed filters, whatever the request asks', async () => {
    const expected = [signed[3], late[0]].sort();
    const page = await call('GET', `/v1/events?${range()}&limit=100`, token);
    assert.equal(page.status, 200);
    assert.deepEqual(
      page
        .json()
        .data.map((e: { event_id: string }) => e.event_id)
        .sort(),
      expected,
    );
    // The same answer as an admin asking for exactly that.
    const admin = await call('GET', `/v1/events?${range()}&tenant=${env.tenant}&actor_id=user-3&limit=100`, keys.admin);
    assert.deepEqual(
      admin
        .json()
        .data.map((e: { event_id: string }) => e.event_id)
        .sort(),
      expected,
    );
    assert.equal((await call('GET', `/v1/events?${range()}&actor_id=user-3&tenant=${env.tenant}`, token)).status, 200);
    assert.equal((await call('GET', `/v1/events?${range()}&actor_id=user-4`, token)).status, 403);
    assert.deepEqual([audited.at(-1)?.outcome, audited.at(-1)?.reason, audited.at(-1)?.actor.id], ['denied', 'outside_viewer_token_filters', tokenId]);
    assert.equal((await call('GET', `/v1/events?${range()}&tenant=${other}`, token)).status, 403);
    const ts = (await call('GET', `/v1/stats/timeseries?${range()}&interval=1h`, token)).json();
    assert.equal(
      ts.series.reduce((n: number, s: { total: number }) => n + s.total, 0),
      2,
    );
    const top = (await call('GET', `/v1/stats/top?${range()}&dimension=actor`, token)).json();
    assert.deepEqual(top.data, [{ tenant: env.tenant, actor_id: 'user-3', count: 2 }]);
    assert.equal((await call('GET', `/v1/events/${signed[3]}`, token)).status, 200);
    assert.equal((await call('GET', `/v1/events/${signed[4]}`, token)).status, 404, 'own tenant, another actor');
    assert.equal((await call('GET', `/v1/events/${otherIds[3]}`, token)).status, 404, 'another tenant');
    const own = await call('GET', `/v1/events/${late[0]}/verify`, token);
    assert.deepEqual([own.status, own.json().event_id], [200, late[0]]);
    assert.equal((await call('GET', `/v1/events/${otherIds[3]}/verify`, token)).status, 404);
  });

  test('writes, exports, alerts and integrity runs are refused', async () => {
    assert.equal((await call('GET', `/v1/export?${range()}`, token)).status, 403);
    assert.equal((await call('GET', `/v1/alerts?${range()}`, token)).status, 403);
    assert.equal((await call('POST', '/v1/integrity/verify', token, {})).status, 403);
  });

  test('reads through it are self-audited naming the token id (never the token)', async () => {
    const before = audited.length;
    await call('GET', `/v1/events/${signed[3]}`, token);
    const rec = audited.slice(before).at(-1);
    assert.equal(rec?.actor.id, tokenId);
    assert.equal(rec?.tenant_id, env.tenant);
    assert.equal(rec?.attributes.viewer_token_id, tokenId);
    assert.equal(rec?.attributes.principal_kind, 'viewer_token');
    assert.ok(rec?.attributes.viewer_token_minted_by);
    assert.ok(!JSON.stringify(audited).includes(token.slice(4)), 'the token itself is never recorded');
  });

  test('a tampered or expired token is a 401 problem', async () => {
    const [body, sig] = token.slice(4).split('.') as [string, string];
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString());
    const forged = `avt_${Buffer.from(JSON.stringify({ ...claims, tenant: other })).toString('base64url')}.${sig}`;
    const flip = (t: string, i: number) => t.slice(0, i) + (t[i] === 'A' ? 'B' : 'A') + t.slice(i + 1);
    for (const bad of [forged, `${token}x`, flip(token, token.length - 1), flip(token, token.length - 10), flip(token, 10)]) {
      const r = await call('GET', `/v1/events?${range()}`, bad);
      assert.equal(r.status, 401);
      assert.match(String(r.headers['content-type']), /^application\/problem\+json/);
    }
    const short = (await call('POST', '/v1/viewer-tokens', keys.admin, { tenant: env.tenant, ttl_s: 1 })).json().token as string;
    await waitFor('the one-second token to expire', async () => (await call('GET', `/v1/events?${range()}`, short)).status === 401, 10_000);
  });
});

describe('saved searches', () => {
  test('saved per credential and tenant; the same name replaces; delete folds away on 18.16 (tombstone + FINAL)', async () => {
    const q = { tenant: env.tenant, action_prefix: 'auth.', range: '24h' };
    const a = await call('POST', '/v1/saved-searches', keys.own, { name: 'failed logins', query: q });
    assert.equal(a.status, 201, JSON.stringify(a.json()));
    const saved = a.json();
    assert.match(saved.id, /^[0-9a-f-]{36}$/);
    assert.deepEqual([saved.name, saved.tenant, saved.query], ['failed logins', env.tenant, q]);
    const b = await call('POST', '/v1/saved-searches', keys.own, { name: 'everything', query: { outcome: 'failure' } });
    assert.equal(b.status, 201);
    assert.equal(b.json().tenant, null);
    const replaced = await call('POST', '/v1/saved-searches', keys.own, { name: 'failed logins', query: { ...q, outcome: 'failure' } });
    assert.equal(replaced.json().id, saved.id, 'the same name and tenant replaces');
    const list = (await call('GET', '/v1/saved-searches', keys.own)).json().data;
    assert.deepEqual(
      list.map((s: { name: string; query: Record<string, string> }) => [s.name, s.query.outcome]),
      [
        ['everything', 'failure'],
        ['failed logins', 'failure'],
      ],
    );
    assert.deepEqual(
      (await call('GET', `/v1/saved-searches?tenant=${env.tenant}`, keys.own)).json().data.map((s: { name: string }) => s.name),
      ['failed logins'],
    );
    assert.equal((await call('DELETE', `/v1/saved-searches/${saved.id}`, keys.own)).status, 204);
    assert.deepEqual(
      (await call('GET', '/v1/saved-searches', keys.own)).json().data.map((s: { name: string }) => s.name),
      ['everything'],
    );
    assert.equal((await call('DELETE', `/v1/saved-searches/${saved.id}`, keys.own)).status, 404, 'already deleted');
    // Saving the name again after a delete makes a new search.
    const again = await call('POST', '/v1/saved-searches', keys.own, { name: 'failed logins', query: q });
    assert.notEqual(again.json().id, saved.id);
    assert.equal((await call('GET', `/v1/saved-searches?tenant=${env.tenant}`, keys.own)).json().data.length, 1);
    const self = audited.filter((e) => e.resource?.type === 'saved_search');
    assert.ok(self.some((e) => e.attributes.operation === 'delete' && e.resource?.id === saved.id));
  });

  test('another credential (another tenant, or an admin) sees none of them and cannot delete them; viewer tokens are refused', async () => {
    const mine = await call('POST', '/v1/saved-searches', keys.own, { name: 'private', query: { tenant: env.tenant } });
    const id = mine.json().id as string;
    assert.deepEqual((await call('GET', '/v1/saved-searches', keys.other)).json().data, []);
    assert.deepEqual((await call('GET', '/v1/saved-searches', keys.admin)).json().data, []);
    assert.equal((await call('GET', `/v1/saved-searches?tenant=${env.tenant}`, keys.other)).status, 403);
    assert.equal((await call('DELETE', `/v1/saved-searches/${id}`, keys.other)).status, 404);
    assert.equal((await call('DELETE', `/v1/saved-searches/${id}`, keys.admin)).status, 404);
    assert.equal((await call('POST', '/v1/saved-searches', keys.other, { name: 'x', query: { tenant: env.tenant } })).status, 403);
    const viewer = (await call('POST', '/v1/viewer-tokens', keys.admin, { tenant: env.tenant })).json().token as string;
    assert.equal((await call('GET', '/v1/saved-searches', viewer)).status, 403);
    assert.equal((await call('POST', '/v1/saved-searches', viewer, { name: 'x', query: {} })).status, 403);
    assert.equal((await call('GET', '/v1/saved-searches', keys.service)).status, 403);
    assert.ok((await call('GET', '/v1/saved-searches', keys.own)).json().data.some((s: { id: string }) => s.id === id));
  });

  test('the query is validated like a search: unknown keys, bad values, range with from/to', async () => {
    const bad = async (query: unknown, parameter?: string) => {
      const r = await call('POST', '/v1/saved-searches', keys.own, { name: 'bad', query });
      assert.equal(r.status, 400, JSON.stringify(query));
      if (parameter)
        assert.ok(
          r.json().errors.some((e: { parameter: string }) => e.parameter === parameter),
          JSON.stringify(r.json().errors),
        );
    };
    await bad({ nope: 'x' });
    await bad({ outcome: 'sideways' });
    await bad({ range: '24h', from: '2026-01-01T00:00:00Z' }, 'query.range');
    await bad({ action: 'auth.login', action_prefix: 'auth.' }, 'query.action_prefix');
    await bad({ source_ip: '1.2.3' }, 'query.source_ip');
    assert.equal((await call('POST', '/v1/saved-searches', keys.own, { query: {} })).status, 400);
  });
});

describe('GET /v1/health/pipeline', () => {
  let health: FastifyInstance;
  let ingestUrl = '';
  let deadPort = 0;

  before(async () => {
    ingestUrl = await ingest.metricsUrl();
    deadPort = await freePort(); // nothing listens there: the alerting service is "down"
    health = buildApi({
      config: consoleConfig(),
      clickhouse: env.ch,
      logger: testLogger,
      metrics: createMetricsRegistry({ service: 'api-console-int-health', defaultMetrics: false }),
      recordEvent: async (e) => {
        audited.push(e);
      },
      pipeline: createPipelineHealth({
        kafka: env.kafka,
        eventsTopic: env.topic,
        ingestGroupId: env.group,
        ingestMetricsUrl: `${ingestUrl}/metrics`,
        alertingMetricsUrl: `http://127.0.0.1:${deadPort}/metrics`,
        timeoutMs: 5000,
      }),
    });
    await publishPoison(env.kafka, env.topic, 3, 1);
    await waitFor(
      'ingest to dead-letter the poison',
      () => scrape(ingestUrl, 'auditstream_ingest_dead_lettered_events_total'),
      (n) => n >= 3,
      60_000,
    );
  });
  after(async () => {
    await health?.close();
  });

  const get = async (key: string) => {
    const r = await health.inject({ method: 'GET', url: '/v1/health/pipeline', headers: { authorization: `Bearer ${key}` } });
    return { status: r.statusCode, json: () => JSON.parse(r.body) };
  };

  test('lag from Kafka, dead letters by class from ingest, and an unreachable alerting service said so (not a 5xx)', async () => {
    const h = await waitFor(
      'ingest to commit past the poison',
      async () => (await get(keys.admin)).json(),
      (v) => v.ingest_lag.total === 0,
      60_000,
    );
    assert.equal(h.ingest_lag.reachable, true);
    assert.deepEqual(h.ingest_lag.partitions, [{ partition: 0, lag: 0 }]);
    assert.equal(h.ingest.reachable, true);
    const dead = await scrape(ingestUrl, 'auditstream_ingest_dead_lettered_events_total');
    assert.equal(h.ingest.dead_lettered_total, dead);
    assert.equal(
      Object.values(h.ingest.dead_lettered_by_class as Record<string, number>).reduce((n, v) => n + v, 0),
      dead,
    );
    assert.ok(Object.keys(h.ingest.dead_lettered_by_class).length > 0);
    assert.equal(h.ingest.inserted_events_total, await scrape(ingestUrl, 'auditstream_ingest_inserted_events_total'));
    assert.equal(h.alerting.reachable, false);
    assert.match(h.alerting.error, /unreachable/);
    assert.equal(h.alerting.delivery_failures_total, null);
    assert.equal(audited.at(-1)?.attributes.alerting_reachable, 'false');
  });

  test('admin and auditor only: viewer tokens and service keys are refused', async () => {
    assert.equal((await get(keys.own)).status, 200);
    assert.equal((await get(keys.service)).status, 403);
    // Minted by this API instance (another instance without a shared api.viewer_token_secret would not accept it).
    const minted = await health.inject({
      method: 'POST',
      url: '/v1/viewer-tokens',
      headers: { authorization: `Bearer ${keys.admin}` },
      payload: { tenant: env.tenant },
    });
    assert.equal((await get(JSON.parse(minted.body).token)).status, 403);
  });
});
