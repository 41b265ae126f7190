// The HTTP collector end to end, no mocks: POST /v1/events on a real API server (HTTP on
// 127.0.0.1:0) publishing through the SDK to the local Kafka, the real `auditstream ingest`
// (child process) storing into ClickHouse 18.16, and service keys in that database's api_keys.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { type Api, apiDefaults, createApi, createApiKey } from '@auditstream/api';
import { createLogger, createMetricsRegistry } from '@auditstream/observability';
import { type AuditProducer, createAuditProducer } from '@auditstream/producer';
import {
  committedTotal,
  createTestEnv,
  type IngestChild,
  mergeFully,
  rowCounts,
  sampleInput,
  spawnIngest,
  type TestEnv,
  waitFor,
  waitForStored,
} from '@auditstream/test';

let env: TestEnv;
let ingest: IngestChild;
let producer: AuditProducer;
let api: Api;
let url: string;
let serviceKey: string;
let auditorKey: string;
/** Event ids the tests expect stored (accepted by the collector), and ones that must never be. */
const stored = new Set<string>();
const neverStored = new Set<string>();

before(async () => {
  env = await createTestEnv({ partitions: 3 });
  ingest = spawnIngest(env.env);
  producer = createAuditProducer({ kafka: env.kafka, topic: env.topic, linger_ms: 2 });
  serviceKey = (await createApiKey(env.ch, { role: 'service', tenants: [env.tenant] })).key;
  auditorKey = (await createApiKey(env.ch, { role: 'auditor', tenants: [env.tenant] })).key;
  api = createApi({
    config: apiDefaults({
      host: '127.0.0.1',
      port: 0,
      api_key_cache_ttl_ms: 0,
      rate_limit_burst: 10_000,
      rate_limit_per_s: 10_000,
      collector_max_events: 50,
      collector_max_body_bytes: 64 * 1024,
    }),
    clickhouse: env.ch,
    logger: createLogger({ service: 'collector-int', level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    metrics: createMetricsRegistry({ service: 'collector-int', defaultMetrics: false }),
    recordEvent: (e) => producer.publish(e),
    publisher: producer,
  });
  url = (await api.start()).url;
});

after(async () => {
  await api?.stop();
  await producer?.close();
  ingest?.proc.kill('SIGTERM');
  await ingest?.exited;
  await env?.cleanup();
});

async function post(body: string, contentType = 'application/json', key = serviceKey) {
  const res = await fetch(`${url}/v1/events`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': contentType }, body });
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type') ?? '', text, json: () => JSON.parse(text) };
}

interface Result {
  index: number;
  status: 'accepted' | 'rejected';
  event_id?: string;
  partition?: number;
  offset?: string;
  occurred_at?: string;
  field?: string;
  code?: string;
  reason?: string;
}

const event = (i: number, over: Record<string, unknown> = {}) => ({ ...sampleInput(env.tenant, i), ...over });

/** The stored rows of one event id: (partition, offset) of every copy. */
async function copies(eventId: string): Promise<Array<{ kafka_partition: number; kafka_offset: string }>> {
  return env.ch.queryRows(
    `SELECT kafka_partition, toString(kafka_offset) AS kafka_offset FROM ${env.database}.events WHERE tenant_id = '${env.tenant}' AND event_id = '${eventId}'`,
  );
}

/** Ingest's committed offsets have reached the end of the topic (every record written so far is stored or dead-lettered). */
async function caughtUp(): Promise<boolean> {
  const admin = env.kafka.admin();
  await admin.connect();
  try {
    const ends = (await admin.fetchTopicOffsets(env.topic)).reduce((s, p) => s + Number(p.high), 0);
    return (await committedTotal(env.kafka, env.group, env.topic)) >= ends;
  } finally {
    await admin.disconnect();
  }
}

describe('POST /v1/events against Kafka, ingest and ClickHouse', () => {
  test('a valid batch: receipts after Kafka acknowledged, and ingest stores each event at its receipt', async () => {
    const events = Array.from({ length: 20 }, (_, i) => event(i));
    const r = await post(JSON.stringify(events));
    assert.equal(r.status, 200, r.text);
    const a = r.json() as { accepted: number; rejected: number; results: Result[] };
    assert.equal(a.accepted, 20);
    assert.equal(a.rejected, 0);
    for (const [i, x] of a.results.entries()) {
      assert.equal(x.index, i);
      assert.equal(x.event_id, events[i]?.event_id);
      stored.add(x.event_id as string);
    }
    await waitForStored(env, 20, { timeoutMs: 120_000 });
    for (const x of a.results) assert.deepEqual(await copies(x.event_id as string), [{ kafka_partition: x.partition, kafka_offset: x.offset }]);
  });

  test('mixed valid and invalid events: per-event results name the field; only the valid ones are stored', async () => {
    const valid = [event(100), event(101)];
    const invalid = [
      event(102, { event_id: '6b1c1f0e-3c1a-4b7a-9d52-0f6d1b1f6a11' }), // UUIDv4
      event(103, { actor: { id: '', type: 'user' } }),
      event(104, { actor: { id: 'u', type: 'user', ip: '300.1.2.3' } }),
      event(105, { action: 'LOGIN' }),
      event(106, { occurred_at: '2001-01-01T00:00:00Z' }),
    ];
    for (const e of invalid) neverStored.add(e.event_id);
    const r = await post(JSON.stringify([valid[0], ...invalid, valid[1]]));
    assert.equal(r.status, 200, r.text);
    const a = r.json() as { accepted: number; rejected: number; results: Result[] };
    assert.equal(a.accepted, 2);
    assert.equal(a.rejected, 5);
    assert.deepEqual(
      a.results.filter((x) => x.status === 'rejected').map((x) => [x.index, x.code, x.field]),
      [
        [1, 'EVENT_INVALID', 'event_id'],
        [2, 'EVENT_INVALID', 'actor.id'],
        [3, 'EVENT_INVALID', 'actor.ip'],
        [4, 'EVENT_INVALID', 'action'],
        [5, 'EVENT_INVALID', 'occurred_at'],
      ],
    );
    for (const x of a.results) if (x.status === 'accepted') stored.add(x.event_id as string);
  });

  test('NDJSON: one event per line is published and stored; a malformed line is a 400 naming it and publishes nothing', async () => {
    const events = [event(200), event(201), event(202)];
    const r = await post(`${events.map((e) => JSON.stringify(e)).join('\n')}\n`, 'application/x-ndjson');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json().accepted, 3);
    for (const e of events) stored.add(e.event_id);

    const bad = [event(203), event(204)];
    for (const e of bad) neverStored.add(e.event_id);
    const m = await post(`${JSON.stringify(bad[0])}\n${JSON.stringify(bad[1]).slice(0, 40)}\n`, 'application/x-ndjson');
    assert.equal(m.status, 400);
    assert.match(m.type, /^application\/problem\+json/);
    assert.deepEqual(m.json().errors, [{ parameter: 'line 2', in: 'body', message: 'is not valid JSON' }]);
    assert.doesNotMatch(m.text, new RegExp(env.tenant));
    const j = await post(`[${JSON.stringify(event(205))},`);
    assert.equal(j.status, 400);
    assert.equal(j.json().detail, 'body is not valid JSON');
  });

  test('too large: a body over collector_max_body_bytes and a batch over collector_max_events are 413 problems', async () => {
    const big = Array.from({ length: 40 }, (_, i) => event(300 + i, { reason: 'x'.repeat(2000) }));
    const many = Array.from({ length: 51 }, (_, i) => event(400 + i));
    for (const e of [...big, ...many]) neverStored.add(e.event_id);
    const r1 = await post(JSON.stringify(big));
    assert.equal(r1.status, 413);
    assert.match(r1.json().detail, /api\.collector_max_body_bytes/);
    const r2 = await post(many.map((e) => JSON.stringify(e)).join('\n'), 'application/x-ndjson');
    assert.equal(r2.status, 413);
    assert.match(r2.json().detail, /api\.collector_max_events/);
  });

  test('wrong role is 403, another tenant is 403 with nothing of the batch published, no Content-Type is 415', async () => {
    const mine = event(500);
    const theirs = { ...event(501), tenant_id: `${env.tenant}_other` };
    neverStored.add(mine.event_id);
    neverStored.add(theirs.event_id);
    const role = await post(JSON.stringify([mine]), 'application/json', auditorKey);
    assert.equal(role.status, 403);
    assert.equal(role.json().type, 'urn:auditstream:problem:forbidden');
    const other = await post(JSON.stringify([mine, theirs]));
    assert.equal(other.status, 403);
    assert.deepEqual(other.json().errors, [{ parameter: '[1].tenant_id', in: 'body', message: 'outside the tenants of this credential' }]);
    assert.doesNotMatch(other.text, /_other/);
    // fetch always sends a Content-Type with a string body: a raw request without one.
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${url}/v1/events`, { method: 'POST', headers: { authorization: `Bearer ${serviceKey}` } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end(JSON.stringify([mine]));
    });
    assert.equal(status, 415);
  });

  test('a retry with the same event_id is one event to every query (also for an event the collector gave its id and time)', async () => {
    const e = event(600);
    const first = (await post(JSON.stringify([e]))).json().results[0] as Result;
    const again = (await post(JSON.stringify([e]))).json().results[0] as Result;
    assert.equal(first.status, 'accepted');
    assert.equal(again.status, 'accepted');
    assert.notEqual(`${first.partition}/${first.offset}`, `${again.partition}/${again.offset}`, 'two Kafka records');
    const { event_id: _id, occurred_at: _at, ...bare } = event(601);
    const filled = (await post(JSON.stringify([bare]))).json().results[0] as Result;
    assert.equal(filled.status, 'accepted');
    const retry = (await post(JSON.stringify([{ ...bare, event_id: filled.event_id, occurred_at: filled.occurred_at }]))).json().results[0] as Result;
    assert.equal(retry.status, 'accepted');
    assert.equal(retry.event_id, filled.event_id);
    stored.add(e.event_id);
    stored.add(filled.event_id as string);
    // Both copies reach the store (ingest has committed every record of the topic). A stored row is
    // identified by its source record, so a merge keeps both; every query shows the event once
    // (the first received, docs/storage.md), and identical content makes it a duplicate, not a conflict.
    await waitFor(
      'ingest caught up with the topic',
      () => caughtUp(),
      (done) => done,
      120_000,
    );
    const counts = await rowCounts(env.ch, env.database, env.tenant);
    assert.equal(counts.distinct, stored.size);
    await mergeFully(env.ch, env.database, 'events');
    const sources = (r: Result) => ({ kafka_partition: r.partition as number, kafka_offset: r.offset as string });
    const bySource = (a: { kafka_partition: number; kafka_offset: string }, b: { kafka_partition: number; kafka_offset: string }) =>
      a.kafka_partition - b.kafka_partition || Number(BigInt(a.kafka_offset) - BigInt(b.kafka_offset));
    assert.deepEqual((await copies(e.event_id)).sort(bySource), [sources(first), sources(again)].sort(bySource), 'one row per Kafka record, none merged away');
    assert.deepEqual((await copies(filled.event_id as string)).sort(bySource), [sources(filled), sources(retry)].sort(bySource));
    assert.equal((await rowCounts(env.ch, env.database, env.tenant)).distinct, stored.size, 'queries count each event once');
  });

  test('in the end exactly the accepted events are stored, none of the refused ones, nothing dead-lettered', async () => {
    await waitForStored(env, stored.size, { timeoutMs: 120_000 });
    const counts = await rowCounts(env.ch, env.database, env.tenant);
    assert.equal(counts.distinct, stored.size);
    const ids = new Set((await env.ch.queryRows<{ event_id: string }>(`SELECT DISTINCT event_id FROM ${env.database}.events`)).map((r) => r.event_id));
    for (const id of stored) assert.ok(ids.has(id), `accepted event ${id} stored`);
    for (const id of neverStored) assert.ok(!ids.has(id), `refused event ${id} not stored`);
    const admin = env.kafka.admin();
    await admin.connect();
    try {
      const dead = (await admin.fetchTopicOffsets(env.dlq)).reduce((n, p) => n + Number(p.high), 0);
      assert.equal(dead, 0, 'the collector only publishes events that ingest stores');
    } finally {
      await admin.disconnect();
    }
  });
});
