import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import { auditFastifyHook, auditMiddleware, type HttpRequestLike, outcomeFromStatus } from './http.js';
import type { PublishReceipt } from './producer.js';
import { createEventNormalizer, type PublishInput } from './validate.js';

test('outcome follows the status code', () => {
  const table: Array<[number, string]> = [
    [200, 'success'],
    [204, 'success'],
    [302, 'success'],
    [400, 'failure'],
    [401, 'denied'],
    [403, 'denied'],
    [404, 'failure'],
    [429, 'failure'],
    [500, 'error'],
    [503, 'error'],
    [0, 'error'],
  ];
  for (const [status, outcome] of table) assert.equal(outcomeFromStatus(status), outcome, String(status));
});

function fakeProducer() {
  const published: PublishInput[] = [];
  return {
    published,
    publish: async (e: PublishInput): Promise<PublishReceipt> => {
      published.push(e);
      return { event_id: 'x', topic: 't', partition: 0, offset: '0' };
    },
  };
}

type Req = HttpRequestLike & { user?: { id: string } };

test('middleware records one event per request when the response finishes', async () => {
  const producer = fakeProducer();
  const mw = auditMiddleware<Req, EventEmitter & { statusCode: number }>(producer, {
    service: 'api',
    describe: (req) =>
      req.url === '/healthz'
        ? null
        : {
            tenant_id: 'acme',
            actor: { id: req.user?.id ?? 'anonymous', type: req.user ? 'user' : 'anonymous' },
            action: 'document.read',
            resource: { type: 'document', id: '42' },
          },
  });
  const req: Req = {
    method: 'GET',
    url: '/docs/42',
    headers: { 'x-request-id': 'req-1', 'user-agent': 'curl/8', traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
    socket: { remoteAddress: '::ffff:203.0.113.5' },
    user: { id: 'u-1' },
  };
  const res = Object.assign(new EventEmitter(), { statusCode: 200 });
  let nexted = false;
  mw(req, res, () => {
    nexted = true;
  });
  assert.ok(nexted);
  res.statusCode = 403;
  res.emit('finish');
  res.emit('close');
  await new Promise((r) => setImmediate(r));
  assert.equal(producer.published.length, 1, 'finish then close records once');
  const e = producer.published[0] as PublishInput;
  assert.equal(e.outcome, 'denied');
  assert.equal(e.service, 'api');
  assert.equal(e.category, 'resource_access');
  assert.equal(e.request_id, 'req-1');
  assert.equal(e.trace_id, '4bf92f3577b34da6a3ce929d0e0e4736');
  assert.deepEqual(e.actor, { id: 'u-1', type: 'user', ip: '203.0.113.5', user_agent: 'curl/8' });
  assert.deepEqual(e.attributes, { http_method: 'GET', http_status: '403' });
  assert.equal(typeof e.occurred_at, 'number');

  const health = Object.assign(new EventEmitter(), { statusCode: 200 });
  mw({ ...req, url: '/healthz' }, health, () => {});
  health.emit('finish');
  await new Promise((r) => setImmediate(r));
  assert.equal(producer.published.length, 1, 'describe() returning null skips the request');
});

test('publish errors go to onError and never reach the request', async () => {
  const errors: unknown[] = [];
  const mw = auditMiddleware<HttpRequestLike, EventEmitter & { statusCode: number }>(
    { publish: () => Promise.reject(new Error('buffer full')) },
    { service: 'api', describe: () => ({ tenant_id: 't', actor: { id: 'u', type: 'user' }, action: 'a.b' }), onError: (e) => errors.push(e) },
  );
  const res = Object.assign(new EventEmitter(), { statusCode: 500 });
  mw({ headers: {} }, res, () => {});
  res.emit('close');
  await new Promise((r) => setImmediate(r));
  assert.equal(errors.length, 1);
});

test('fastify onResponse hook uses reply.statusCode and elapsedTime', async () => {
  const producer = fakeProducer();
  const hook = auditFastifyHook<HttpRequestLike, { statusCode: number; elapsedTime: number }>(producer, {
    service: 'api',
    category: 'configuration',
    describe: () => ({ tenant_id: 't', actor: { id: 'svc', type: 'service' }, action: 'setting.update', attributes: { setting: 'mfa' } }),
  });
  const before = Date.now();
  await hook({ method: 'PUT', headers: {}, ip: '198.51.100.1' }, { statusCode: 422, elapsedTime: 1000 });
  const e = producer.published[0] as PublishInput;
  assert.equal(e.outcome, 'failure');
  assert.equal(e.category, 'configuration');
  assert.equal(e.actor.ip, '198.51.100.1');
  assert.deepEqual(e.attributes, { http_method: 'PUT', http_status: '422', setting: 'mfa' });
  assert.ok((e.occurred_at as number) <= (before - 900) * 1000);
});

test('empty request headers are no value: the event carries null, which the contract accepts ("" it refuses)', async () => {
  const producer = fakeProducer();
  const mw = auditMiddleware<Req, EventEmitter & { statusCode: number }>(producer, {
    service: 'api',
    describe: () => ({ tenant_id: 'acme', actor: { id: 'u-1', type: 'user' }, action: 'document.read' }),
  });
  const req: Req = { method: 'GET', url: '/x', headers: { 'x-request-id': '', 'user-agent': '' }, socket: { remoteAddress: '203.0.113.5' } };
  const res = Object.assign(new EventEmitter(), { statusCode: 200 });
  mw(req, res, () => {});
  res.emit('finish');
  await new Promise((r) => setImmediate(r));
  const e = producer.published[0];
  assert.ok(e);
  assert.equal(e.request_id, null);
  assert.equal(e.actor.user_agent, null);
  assert.doesNotThrow(() => createEventNormalizer()(e, Date.now()));
});
