import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { createIngestMetrics } from '../metrics.js';
import type { DeadLetter } from '../types.js';
import { createDlqPublisher, DLQ_HEADERS, DLQ_REQUEST_BYTES, type DlqMessage, headerSafe, isTooLarge, toDlqMessage } from './dlq.js';

const dead = (over: Partial<DeadLetter['source']> = {}, errorClass: DeadLetter['errorClass'] = 'invalid'): DeadLetter => ({
  source: {
    topic: 'audit.events',
    partition: 4,
    offset: '1234',
    timestamp: '1700000000000',
    key: Buffer.from('k'),
    value: Buffer.from([0xc3, 0x01, 0xff, 0x00]),
    headers: { traceparent: '00-abc', [DLQ_HEADERS.errorClass]: 'stale' },
    size: 10,
    ...over,
  },
  errorClass,
  reason: 'EVENT_INVALID (actor.ip): actor.ip must be an IPv4 or IPv6 address\nsecond line',
});

test('a dead letter keeps the original bytes and headers, and says why, from where and since when', () => {
  const d = dead();
  const m = toDlqMessage(d, new Date('2026-01-02T03:04:05.000Z'));
  assert.equal(m.value, d.source.value);
  assert.equal(m.key, d.source.key);
  assert.deepEqual(m.headers, {
    traceparent: '00-abc',
    'x-auditstream-error-class': 'invalid',
    'x-auditstream-error-message': 'EVENT_INVALID (actor.ip): actor.ip must be an IPv4 or IPv6 address second line',
    'x-auditstream-source-topic': 'audit.events',
    'x-auditstream-source-partition': '4',
    'x-auditstream-source-offset': '1234',
    'x-auditstream-source-timestamp': '1700000000000',
    'x-auditstream-first-seen': '2026-01-02T03:04:05.000Z',
  });
});

test('a replayed message that fails again keeps its first-seen time', () => {
  const d = dead({ headers: { [DLQ_HEADERS.firstSeen]: Buffer.from('2025-12-31T00:00:00.000Z') } });
  const m = toDlqMessage(d, new Date('2026-01-02T00:00:00.000Z'));
  assert.equal(m.headers[DLQ_HEADERS.firstSeen], '2025-12-31T00:00:00.000Z');
});

test('header text is one printable, bounded line', () => {
  assert.equal(headerSafe('a\r\nb\té'), 'a b ?');
  assert.equal(headerSafe('x'.repeat(1000)).length, 300);
});

test('publishing retries until acknowledged, then counts by error class', async () => {
  const metrics = createIngestMetrics(new Registry());
  const sent: DlqMessage[][] = [];
  let fail = 2;
  const publish = createDlqPublisher({
    send: async (_topic, messages) => {
      if (fail-- > 0) throw Object.assign(new Error('broker down'), { retriable: true });
      sent.push(messages);
    },
    topic: 'audit.events.dlq',
    metrics,
    retry: { initial_delay_ms: 1, max_delay_ms: 2 },
    signal: new AbortController().signal,
  });
  await publish([dead(), dead({}, 'not_avro'), dead({}, 'not_avro')]);
  assert.equal(sent.length, 1);
  assert.equal(sent[0]?.length, 3);
  const values = (await metrics.deadLettered.get()).values.map((v) => [v.labels.error_type, v.value]);
  assert.deepEqual(Object.fromEntries(values), { invalid: 1, not_avro: 2 });
});

test('dead letters go in requests under the size limit; one the broker refuses as too large goes without its value, never blocking', async () => {
  const metrics = createIngestMetrics(new Registry());
  const sent: DlqMessage[][] = [];
  const tooLarge = Object.assign(new Error('The request included a message larger than the max message size the server will accept'), {
    type: 'MESSAGE_TOO_LARGE',
    retriable: false,
  });
  const publish = createDlqPublisher({
    send: async (_topic, messages) => {
      if (messages.some((m) => (m.value?.length ?? 0) > 600_000)) throw tooLarge;
      sent.push(messages);
    },
    topic: 'dlq',
    metrics,
    retry: { initial_delay_ms: 1, max_delay_ms: 2 },
    signal: new AbortController().signal,
  });
  const big = (n: number) => dead({ value: Buffer.alloc(n, 1) });
  await publish([big(200_000), big(200_000), big(200_000), big(700_000), big(10)]);
  assert.ok(sent.every((req) => req.reduce((s, m) => s + (m.value?.length ?? 0), 0) <= DLQ_REQUEST_BYTES));
  const all = sent.flat();
  assert.equal(all.length, 5, 'every dead letter published once');
  const omitted = all.filter((m) => m.value === null);
  assert.equal(omitted.length, 1);
  assert.equal(omitted[0]?.headers['x-auditstream-value-omitted'], '700000');
  assert.equal(omitted[0]?.headers[DLQ_HEADERS.sourceOffset], '1234');
  assert.equal(isTooLarge(new Error('x')), false);
  assert.equal(isTooLarge({ cause: tooLarge }), true);
});
