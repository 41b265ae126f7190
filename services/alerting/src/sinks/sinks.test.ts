import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { AuditstreamError } from '@auditstream/core';
import { waitFor } from '@auditstream/test';
import { Registry } from 'prom-client';
import type { AlertDelivery } from '../alert.js';
import { testAlert } from './alert.test-helper.js';
import { decodeAlert, encodeAlert } from './alert-codec.js';
import { createAlertmanagerSink } from './alertmanager.js';
import { createDispatcher, createDispatcherMetrics } from './dispatcher.js';
import { createSlackSink, slackText } from './slack.js';
import type { Sink } from './types.js';
import { createWebhookSink } from './webhook.js';

const alert = testAlert;

interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

async function receiver(handler?: (r: Received, res: ServerResponse) => void): Promise<{ url: string; got: Received[]; server: Server }> {
  const got: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const r = { path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      got.push(r);
      if (handler) handler(r, res);
      else res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, got, server };
}

const signal = new AbortController().signal;

test('webhook: JSON POST with an HMAC signature the receiver verifies; receivers dedupe on alert_id', async () => {
  const secret = 'hook-secret';
  const seen = new Set<string>();
  let verified = 0;
  const rx = await receiver((r, res) => {
    const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(r.body).digest('hex')}`);
    const given = Buffer.from(String(r.headers['x-auditstream-signature']));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return res.writeHead(401).end();
    verified++;
    seen.add((JSON.parse(r.body) as { alert: { alert_id: string } }).alert.alert_id);
    res.writeHead(204).end();
  });
  const sink = createWebhookSink({ url: `${rx.url}/hook`, secret, timeout_ms: 2000, send_updates: true });
  await sink.send({ kind: 'fired', alert: alert() }, signal);
  await sink.send({ kind: 'updated', alert: alert({ version: 1, count: 7 }) }, signal);
  assert.equal(verified, 2);
  assert.equal(seen.size, 1);
  const body = JSON.parse(rx.got[0]!.body) as { kind: string; alert: Record<string, unknown> };
  assert.equal(body.kind, 'fired');
  assert.equal(body.alert.window_start, '2026-03-02T10:00:00.000Z');
  assert.equal(rx.got[0]!.headers['x-auditstream-alert-id'], alert().alert_id);
  assert.equal(rx.got[1]!.headers['x-auditstream-delivery'], 'updated');

  const wrong = createWebhookSink({ url: `${rx.url}/hook`, secret: 'not-it', timeout_ms: 2000, send_updates: true });
  await assert.rejects(
    wrong.send({ kind: 'fired', alert: alert() }, signal),
    (e: unknown) => e instanceof AuditstreamError && e.code === 'SINK_HTTP_4XX' && !e.retriable,
  );
});

test('slack: {text} with escaped, readable content', async () => {
  const rx = await receiver();
  const sink = createSlackSink({ url: `${rx.url}/services/T/B/X`, timeout_ms: 2000, send_updates: false });
  await sink.send({ kind: 'fired', alert: alert() }, signal);
  const body = JSON.parse(rx.got[0]!.body) as { text: string };
  assert.deepEqual(Object.keys(body), ['text']);
  assert.match(body.text, /\*\[HIGH\] Brute-force login attempts\*/);
  assert.match(body.text, /alice &lt;script&gt;/);
  assert.match(slackText({ kind: 'updated', alert: alert() }), /\(update\)/);
});

test('alertmanager: API v2 postable alert with labels, annotations, startsAt/endsAt', async () => {
  const rx = await receiver();
  const sink = createAlertmanagerSink({ url: `${rx.url}/`, timeout_ms: 2000, send_updates: true, resolve_after_s: 3600 });
  await sink.send({ kind: 'fired', alert: alert() }, signal);
  assert.equal(rx.got[0]!.path, '/api/v2/alerts');
  const [a] = JSON.parse(rx.got[0]!.body) as Array<{ labels: Record<string, string>; annotations: Record<string, string>; startsAt: string; endsAt: string }>;
  assert.deepEqual(a!.labels, {
    alertname: 'Brute-force login attempts',
    severity: 'high',
    rule_id: 'brute_force',
    alert_id: alert().alert_id,
    tenant_id: 'acme',
    source: 'auditstream',
  });
  assert.equal(a!.annotations.summary, alert().summary);
  assert.equal(a!.startsAt, '2026-03-02T10:00:00.000Z');
  assert.equal(a!.endsAt, '2026-03-02T11:00:51.000Z');
});

test('http errors: 5xx and 429 are retriable, network failures too', async () => {
  const rx = await receiver((_r, res) => res.writeHead(503).end());
  const sink = createSlackSink({ url: rx.url, timeout_ms: 2000, send_updates: false });
  await assert.rejects(
    sink.send({ kind: 'fired', alert: alert() }, signal),
    (e: unknown) => (e as AuditstreamError).code === 'SINK_HTTP_5XX' && (e as AuditstreamError).retriable,
  );
  const dead = createSlackSink({ url: 'http://127.0.0.1:1', timeout_ms: 2000, send_updates: false });
  await assert.rejects(
    dead.send({ kind: 'fired', alert: alert() }, signal),
    (e: unknown) => (e as AuditstreamError).code === 'SINK_UNREACHABLE' && (e as AuditstreamError).retriable,
  );
});

test('the Avro alert encoding round-trips (single-object encoding)', () => {
  const d: AlertDelivery = { kind: 'updated', alert: alert({ details: { distinct_count: '12' }, version: 3 }) };
  const buf = encodeAlert(d);
  assert.deepEqual(buf.subarray(0, 2), Buffer.from([0xc3, 0x01]));
  assert.deepEqual(decodeAlert(buf), d);
  assert.throws(() => decodeAlert(Buffer.from('{"json":true}')), /not Avro single-object encoded/);
});

async function metricValue(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = (m?.values as Array<{ labels: Record<string, string>; value: number }> | undefined)?.find((x) =>
    Object.entries(labels).every(([k, val]) => x.labels[k] === val),
  );
  return v?.value ?? 0;
}

test('dispatcher: a failing sink retries with backoff and never blocks the others', async () => {
  const registry = new Registry();
  const good: AlertDelivery[] = [];
  let badCalls = 0;
  let release: () => void = () => {};
  const stuck = new Promise<void>((r) => {
    release = r;
  });
  const sinks: Sink[] = [
    {
      name: 'webhook',
      sendUpdates: true,
      async send() {
        badCalls++;
        throw new AuditstreamError('SINK_HTTP_5XX', 'down', { retriable: true });
      },
    },
    {
      name: 'slack',
      sendUpdates: false,
      async send() {
        await stuck; // hangs until released
      },
    },
    { name: 'kafka', sendUpdates: true, send: async (d) => void good.push(d) },
  ];
  const dispatcher = createDispatcher({
    sinks: sinks.map((sink) => ({ sink, queue: { queue_size: sink.name === 'slack' ? 3 : 10, max_attempts: 3, initial_delay_ms: 1, max_delay_ms: 2 } })),
    metrics: createDispatcherMetrics(registry),
  });
  for (let i = 0; i < 5; i++) dispatcher.dispatch({ kind: 'fired', alert: alert({ alert_id: `a${i}` }) });
  dispatcher.dispatch({ kind: 'updated', alert: alert({ alert_id: 'a4', version: 1 }) });
  // Wait for the work, not a fixed time: a loaded CI machine may not finish 18 retries in 100 ms.
  await waitFor('the healthy sink and the failing sink to finish', () => good.length === 6 && badCalls === 18, 10_000, { everyMs: 5 });
  assert.equal(good.length, 6, 'the healthy sink got everything while another hangs and another fails');
  assert.equal(await metricValue(registry, 'auditstream_alerting_sink_deliveries_total', { sink: 'kafka', result: 'delivered' }), 6);
  assert.equal(await metricValue(registry, 'auditstream_alerting_sink_failures_total', { sink: 'webhook', error_type: 'SINK_HTTP_5XX' }), badCalls);
  assert.equal(badCalls, 18, 'three attempts per delivery');
  // slack: one in flight, queue of 3, so 1 of the 5 fired alerts was dropped; updates never go to slack.
  assert.equal(await metricValue(registry, 'auditstream_alerting_sink_deliveries_total', { sink: 'slack', result: 'dropped' }), 1);
  release();
  assert.equal(await dispatcher.drain(2000), true);
  assert.equal(await metricValue(registry, 'auditstream_alerting_sink_deliveries_total', { sink: 'slack', result: 'delivered' }), 4);
  assert.equal(await metricValue(registry, 'auditstream_alerting_sink_deliveries_total', { sink: 'webhook', result: 'failed' }), 6);
  await dispatcher.close(100);
});

test('dispatcher: pending updates of one alert coalesce; a 4xx is not retried', async () => {
  const registry = new Registry();
  const got: AlertDelivery[] = [];
  let gate: () => void = () => {};
  const first = new Promise<void>((r) => {
    gate = r;
  });
  let rejected = 0;
  const dispatcher = createDispatcher({
    sinks: [
      {
        sink: {
          name: 'kafka',
          sendUpdates: true,
          async send(d) {
            if (got.length === 0) await first;
            got.push(d);
          },
        },
        queue: { queue_size: 10, max_attempts: 5, initial_delay_ms: 1, max_delay_ms: 1 },
      },
      {
        sink: {
          name: 'webhook',
          sendUpdates: true,
          async send() {
            rejected++;
            throw new AuditstreamError('SINK_HTTP_4XX', 'no', { retriable: false });
          },
        },
        queue: { queue_size: 10, max_attempts: 5, initial_delay_ms: 1, max_delay_ms: 1 },
      },
    ],
    metrics: createDispatcherMetrics(registry),
  });
  dispatcher.dispatch({ kind: 'fired', alert: alert() });
  for (let v = 1; v <= 5; v++) dispatcher.dispatch({ kind: 'updated', alert: alert({ version: v }) });
  gate();
  await dispatcher.drain(2000);
  assert.deepEqual(
    got.map((d) => `${d.kind}:${d.alert.version}`),
    ['fired:0', 'updated:5'],
  );
  assert.equal(rejected, 2, 'fired + the coalesced update, each tried once');
  await dispatcher.close(100);
});
