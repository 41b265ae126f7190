// Unit tests of POST /v1/events with the real SDK (validator, codec, batching) over a fake kafkajs,
// and fake credentials. The real Kafka + ingest + ClickHouse flow is test/integration/collector.test.ts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ClickHouse } from '@auditstream/clickhouse';
import { uuidv7 } from '@auditstream/core';
import { createLogger, createMetricsRegistry } from '@auditstream/observability';
import { createAuditProducer } from '@auditstream/producer';
import type { PartitionMetadata, ProducerBatch, ProducerConfig, RecordMetadata } from 'kafkajs';
import type { ApiKeyVerifier } from '../api-keys.js';
import { buildApi } from '../app.js';
import { apiDefaults } from '../config.js';
import type { Principal } from '../scope.js';

const KEYS: Record<string, Principal> = {
  ask_service: { kind: 'api_key', id: 'svc1', role: 'service', tenants: ['acme'] },
  ask_service_all: { kind: 'api_key', id: 'svc2', role: 'service', tenants: '*' },
  ask_service_none: { kind: 'api_key', id: 'svc3', role: 'service', tenants: [] },
  ask_auditor: { kind: 'api_key', id: 'aud1', role: 'auditor', tenants: ['acme'] },
  ask_admin: { kind: 'api_key', id: 'adm1', role: 'admin', tenants: '*' },
};

const ONE_PARTITION: PartitionMetadata[] = [{ partitionId: 0, leader: 1, replicas: [1], isr: [1], partitionErrorCode: 0 }];

/** A kafkajs stand-in: one partition, offsets counting up; `fail` makes every send throw it. */
function fakeKafka() {
  const sent: Buffer[] = [];
  const state: { fail: Error | undefined } = { fail: undefined };
  const kafka = {
    producer: (config?: ProducerConfig) => ({
      connect: async () => {},
      disconnect: async () => {},
      async sendBatch(batch: ProducerBatch): Promise<RecordMetadata[]> {
        if (state.fail) throw state.fail;
        // The SDK pins each message's partition through its partitioner, as kafkajs runs it.
        const partitioner = config?.createPartitioner?.();
        const out: RecordMetadata[] = [];
        for (const tm of batch.topicMessages ?? []) {
          for (const message of tm.messages) partitioner?.({ topic: tm.topic, partitionMetadata: ONE_PARTITION, message });
          out.push({ topicName: tm.topic, partition: 0, errorCode: 0, baseOffset: String(sent.length) });
          for (const m of tm.messages) sent.push(m.value as Buffer);
        }
        return out;
      },
    }),
  };
  return { kafka, sent, state };
}

function makeApp(over: { publisher?: boolean; max_events?: number; max_bytes?: number; burst?: number } = {}) {
  const fk = fakeKafka();
  const producer = createAuditProducer({ kafka: fk.kafka as never, topic: 't', linger_ms: 0, delivery_timeout_ms: 2000, retry_initial_delay_ms: 1 });
  const metrics = createMetricsRegistry({ service: 'api-test', defaultMetrics: false });
  const apiKeys: ApiKeyVerifier = { verify: async (t) => KEYS[t] };
  const app = buildApi({
    config: apiDefaults({
      rate_limit_burst: over.burst ?? 1000,
      rate_limit_per_s: over.burst ? 0.001 : 1000,
      unauthenticated_rate_limit_per_s: 1000,
      collector_max_events: over.max_events ?? 100,
      collector_max_body_bytes: over.max_bytes ?? 64 * 1024,
    }),
    clickhouse: {} as ClickHouse,
    logger: createLogger({ service: 'api-test', level: 'silent' }),
    metrics,
    recordEvent: async () => {},
    apiKeys,
    ...(over.publisher === false ? {} : { publisher: producer }),
  });
  return { app, fk, metrics, producer };
}

function event(i: number, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    event_id: uuidv7(),
    tenant_id: 'acme',
    actor: { id: `u${i}`, type: 'user', ip: '10.0.0.1' },
    action: 'auth.login',
    category: 'authentication',
    outcome: 'success',
    service: 'billing',
    ...over,
  };
}

type App = ReturnType<typeof makeApp>['app'];
async function post(app: App, body: string, contentType: string | undefined = 'application/json', key = 'ask_service') {
  const headers: Record<string, string> = { authorization: `Bearer ${key}` };
  if (contentType !== undefined) headers['content-type'] = contentType;
  const r = await app.inject({ method: 'POST', url: '/v1/events', headers, payload: body });
  return { status: r.statusCode, type: String(r.headers['content-type']), body: r.body, json: () => JSON.parse(r.body) };
}

describe('POST /v1/events', () => {
  test('a valid JSON batch: one receipt per event, in order, after Kafka acknowledged; event_id filled when absent', async () => {
    const { app, fk } = makeApp();
    const events = [event(0), event(1), event(2)];
    delete events[1]?.event_id;
    const r = await post(app, JSON.stringify(events));
    assert.equal(r.status, 200, r.body);
    const a = r.json();
    assert.equal(a.accepted, 3, r.body);
    assert.equal(a.rejected, 0);
    assert.deepEqual(
      a.results.map((x: { index: number; status: string; partition: number; offset: string }) => [x.index, x.status, x.partition, x.offset]),
      [
        [0, 'accepted', 0, '0'],
        [1, 'accepted', 0, '1'],
        [2, 'accepted', 0, '2'],
      ],
    );
    assert.equal(a.results[0].event_id, events[0]?.event_id);
    assert.match(a.results[1].event_id, /^[0-9a-f]{8}-[0-9a-f]{4}-7/);
    // occurred_at given → not in the result; absent → the time the collector gave it, to re-send with.
    const timed = await post(app, JSON.stringify([event(3, { occurred_at: new Date().toISOString() }), event(4)]));
    assert.equal(timed.status, 200, timed.body);
    const [given, filled] = timed.json().results;
    assert.equal(given.occurred_at, undefined);
    assert.match(filled.occurred_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(fk.sent.length, 5);
  });

  test('mixed valid and invalid events: per-event results name the field; the valid ones are published', async () => {
    const { app, fk, metrics } = makeApp();
    const bad = [
      event(1, { actor: { id: 'u1', type: 'user', ip: '999.1.1.1' } }),
      event(2, { action: 'Login' }),
      event(3, { event_id: 'not-a-uuid' }),
      event(4, { surprise: 'x' }),
      42,
    ];
    const r = await post(app, JSON.stringify([event(0), ...bad, event(5)]));
    assert.equal(r.status, 200, r.body);
    const a = r.json();
    assert.equal(a.accepted, 2);
    assert.equal(a.rejected, 5);
    const fields = a.results.filter((x: { status: string }) => x.status === 'rejected').map((x: { field: string }) => x.field);
    assert.deepEqual(fields, ['actor.ip', 'action', 'event_id', 'surprise', 'event']);
    for (const x of a.results.filter((y: { status: string }) => y.status === 'rejected')) {
      assert.equal(x.code, 'EVENT_INVALID');
      assert.equal(x.retriable, false);
      assert.ok(x.reason.startsWith(x.field), x.reason);
      assert.doesNotMatch(x.reason, /999\.1\.1\.1|Login|not-a-uuid/);
    }
    assert.deepEqual(
      a.results.map((x: { status: string }) => x.status),
      ['accepted', 'rejected', 'rejected', 'rejected', 'rejected', 'rejected', 'accepted'],
    );
    assert.equal(fk.sent.length, 2);
    const text = await metrics.metrics();
    assert.match(text, /auditstream_api_collector_events_received_total\{format="json"[^}]*\} 7/);
    assert.match(text, /auditstream_api_collector_events_accepted_total\{[^}]*\} 2/);
    assert.match(text, /auditstream_api_collector_events_rejected_total\{code="EVENT_INVALID"[^}]*\} 5/);
  });

  test('NDJSON: one event per line, CRLF and blank lines tolerated; a malformed line is a 400 naming it, echoing nothing', async () => {
    const { app, fk, metrics } = makeApp();
    const ok = await post(app, `${JSON.stringify(event(0))}\r\n\n${JSON.stringify(event(1))}\n`, 'application/x-ndjson');
    assert.equal(ok.status, 200, ok.body);
    assert.equal(ok.json().accepted, 2);
    const bad = await post(app, `${JSON.stringify(event(2))}\n\n{"tenant_id":"secret-value"\n`, 'application/x-ndjson; charset=utf-8');
    assert.equal(bad.status, 400);
    assert.match(bad.type, /^application\/problem\+json/);
    const p = bad.json();
    assert.equal(p.type, 'urn:auditstream:problem:invalid-parameters');
    assert.deepEqual(p.errors, [{ parameter: 'line 3', in: 'body', message: 'is not valid JSON' }]);
    assert.doesNotMatch(bad.body, /secret-value/);
    assert.equal(fk.sent.length, 2, 'nothing of a malformed body is published');
    assert.match(await metrics.metrics(), /auditstream_api_collector_events_received_total\{format="ndjson"[^}]*\} 2/);
  });

  test('malformed JSON, a non-array, an empty batch and invalid UTF-8 are 400s', async () => {
    const { app, fk } = makeApp();
    for (const [body, detail] of [
      ['[{"tenant_id":"secret-value"', 'body is not valid JSON'],
      [JSON.stringify(event(0)), 'body must be a JSON array of events (or send application/x-ndjson)'],
      ['[]', 'body holds no event'],
      ['', 'body holds no event'],
    ] as const) {
      const r = await post(app, body);
      assert.equal(r.status, 400, body);
      assert.equal(r.json().detail, detail);
      assert.doesNotMatch(r.body, /secret-value/);
    }
    const r = await app.inject({
      method: 'POST',
      url: '/v1/events',
      headers: { authorization: 'Bearer ask_service', 'content-type': 'application/json' },
      payload: Buffer.from([0x5b, 0xff, 0x5d]),
    });
    assert.equal(r.statusCode, 400);
    assert.equal(JSON.parse(r.body).detail, 'body is not valid UTF-8');
    assert.equal(fk.sent.length, 0);
  });

  test('other content types and charsets are 415 naming the accepted ones', async () => {
    const { app } = makeApp();
    // (No Content-Type at all is covered over real HTTP in test/integration/collector.test.ts: inject() adds one.)
    for (const ct of ['text/plain', 'application/json; charset=latin1', 'application/avro', 'application/ndjson']) {
      const r = await post(app, '[{}]', ct);
      assert.equal(r.status, 415, String(ct));
      assert.match(r.type, /^application\/problem\+json/);
      assert.match(r.json().detail, /application\/json .*application\/x-ndjson/);
    }
  });

  test('too large: over collector_max_body_bytes or collector_max_events is 413 naming the key; nothing is published', async () => {
    const { app, fk } = makeApp({ max_events: 3, max_bytes: 2000 });
    const big = await post(app, JSON.stringify([event(0, { reason: 'x'.repeat(3000) })]));
    assert.equal(big.status, 413);
    assert.match(big.json().detail, /api\.collector_max_body_bytes/);
    const many = await post(app, JSON.stringify([event(0), event(1), event(2), event(3)]));
    assert.equal(many.status, 413);
    assert.match(many.json().detail, /api\.collector_max_events \(3\)/);
    const manyLines = await post(app, [0, 1, 2, 3].map((i) => JSON.stringify(event(i))).join('\n'), 'application/x-ndjson');
    assert.equal(manyLines.status, 413);
    assert.equal(fk.sent.length, 0);
    // The API's other endpoints keep their own limit and media type.
    const other = await app.inject({
      method: 'POST',
      url: '/v1/integrity/verify',
      headers: { authorization: 'Bearer ask_admin', 'content-type': 'application/x-ndjson' },
      payload: '{}',
    });
    assert.equal(other.statusCode, 415);
  });

  test('roles and tenants: only service keys, only their tenants (else 403 and nothing published)', async () => {
    const { app, fk } = makeApp();
    for (const key of ['ask_auditor', 'ask_admin']) {
      const r = await post(app, JSON.stringify([event(0)]), 'application/json', key);
      assert.equal(r.status, 403, key);
      assert.equal(r.json().type, 'urn:auditstream:problem:forbidden');
    }
    const other = await post(app, JSON.stringify([event(0), event(1, { tenant_id: 'beta-secret' }), event(2)]));
    assert.equal(other.status, 403);
    assert.deepEqual(other.json().errors, [{ parameter: '[1].tenant_id', in: 'body', message: 'outside the tenants of this credential' }]);
    assert.doesNotMatch(other.body, /beta-secret/);
    const none = await post(app, JSON.stringify([event(0)]), 'application/json', 'ask_service_none');
    assert.equal(none.status, 403);
    assert.equal(fk.sent.length, 0);
    const all = await post(app, JSON.stringify([event(0, { tenant_id: 'beta' })]), 'application/json', 'ask_service_all');
    assert.equal(all.status, 200);
    const unauth = await post(app, JSON.stringify([event(0)]), 'application/json', 'ask_nope');
    assert.equal(unauth.status, 401);
  });

  test('a Kafka failure is a per-event rejection with its code and event_id (retry with it), not a 500', async () => {
    const { app, fk } = makeApp();
    fk.state.fail = Object.assign(new Error('denied'), { name: 'KafkaJSProtocolError', type: 'TOPIC_AUTHORIZATION_FAILED', retriable: false });
    const e = event(0);
    const r = await post(app, JSON.stringify([e]));
    assert.equal(r.status, 200, r.body);
    const x = r.json().results[0];
    assert.equal(x.status, 'rejected');
    assert.equal(x.code, 'PRODUCER_SEND_FAILED');
    assert.equal(x.event_id, e.event_id);
    assert.doesNotMatch(r.body, /TOPIC_AUTHORIZATION_FAILED/);
  });

  test('rate limits as on the rest of the API: one token per request, 429 with Retry-After when the bucket is empty', async () => {
    const { app, fk } = makeApp({ burst: 2 });
    assert.equal((await post(app, JSON.stringify([event(0)]))).status, 200);
    assert.equal((await post(app, JSON.stringify([event(1)]))).status, 200);
    const r = await app.inject({
      method: 'POST',
      url: '/v1/events',
      headers: { authorization: 'Bearer ask_service', 'content-type': 'application/json' },
      payload: JSON.stringify([event(2)]),
    });
    assert.equal(r.statusCode, 429);
    assert.ok(Number(r.headers['retry-after']) >= 1);
    assert.equal(fk.sent.length, 2);
  });

  test('without a producer the endpoint answers 501', async () => {
    const { app } = makeApp({ publisher: false });
    const r = await post(app, JSON.stringify([event(0)]));
    assert.equal(r.status, 501);
  });

  test('the OpenAPI document describes the operation, both body formats and its errors', async () => {
    const { app } = makeApp();
    const r = await app.inject({ method: 'GET', url: '/openapi.json' });
    const op = JSON.parse(r.body).paths['/v1/events'].post;
    assert.equal(op.operationId, 'publishEvents');
    assert.deepEqual(Object.keys(op.requestBody.content), ['application/json', 'application/x-ndjson']);
    assert.deepEqual(Object.keys(op.responses).sort(), ['200', '400', '401', '403', '413', '415', '429', '501']);
    assert.equal(op.responses['200'].content['application/json'].schema.$ref, '#/components/schemas/CollectorAnswer');
  });
});
