/**
 * Publish → alert latency under background traffic, against the real Kafka:
 *   node --import tsx services/alerting/src/bench-latency.ts [--rate 1000] [--seconds 30]
 * Starts the service in-process with a webhook sink, publishes benign background events at
 * --rate per second, and every 500 ms a burst of 6 failed logins for a fresh actor; the
 * latency is from the burst's publish (before producer.send) to the webhook receiving the alert.
 */
import { parseArgs } from 'node:util';
import { uniqueName, uuidv7 } from '@auditstream/core';
import { createLogger } from '@auditstream/observability';
import { testKafka, webhookReceiver } from '@auditstream/test';
import { Registry } from 'prom-client';
import { createAlerting } from './app.js';
import { alertingSection } from './config.js';
import type { AlertEvent } from './event.js';
import { codec, createTopics, login } from './int.test-helper.js';

const { values } = parseArgs({ options: { rate: { type: 'string', default: '1000' }, seconds: { type: 'string', default: '30' } } });
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const kafka = testKafka('alerting-bench');
const topics = await createTopics(kafka, 'alerting_bench', 6);
const hook = await webhookReceiver('bench');
const app = createAlerting({
  config: alertingSection.parse({
    consumer_group: uniqueName('alerting_bench'),
    sinks: { webhook: { enabled: true, url: hook.url, secret: 'bench' } },
  }),
  kafka,
  topics: { events: topics.events, alerts: topics.alerts },
  registry: new Registry(),
  logger: createLogger({ service: 'alerting-bench', level: 'warn' }),
  decodeEvent: (v) => codec.decodeSync(v) as unknown as AlertEvent,
  observability: false,
});
await app.start();
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
await producer.connect();

const sentAt = new Map<string, number>();
const latencies: number[] = [];
let background = 0;
const until = Date.now() + seconds * 1000;
const tickMs = 50;
const perTick = Math.round((rate * tickMs) / 1000);
let probe = 0;
let lastProbe = 0;
while (Date.now() < until) {
  const started = Date.now();
  const msgs = [];
  for (let i = 0; i < perTick; i++) {
    const now = Date.now();
    msgs.push({
      key: `t${i % 20}`,
      value: codec.encodeSync({
        event_id: uuidv7(now),
        tenant_id: `t${i % 20}`,
        occurred_at: now * 1000,
        actor: { id: `bg${i % 500}`, type: 'user', ip: `10.0.${i % 200}.1` },
        action: i % 3 === 0 ? 'auth.login' : 'document.read',
        category: i % 3 === 0 ? 'authentication' : 'resource_access',
        outcome: 'success',
        service: `svc${i % 10}`,
        attributes: { http_method: 'GET' },
      }),
    });
  }
  const sends = [producer.send({ topic: topics.events, acks: -1, messages: msgs })];
  if (started - lastProbe >= 500) {
    lastProbe = started;
    const actor = `probe${probe++}`;
    const t = Date.now();
    const burst = Array.from({ length: 6 }, (_, i) => login(actor, '192.0.2.200', 'failure', t + i));
    sentAt.set(actor, Date.now());
    sends.push(producer.send({ topic: topics.events, acks: -1, messages: burst.map((e) => ({ key: e.tenant_id, value: codec.encodeSync(e) })) }));
  }
  await Promise.all(sends);
  background += perTick;
  for (const h of hook.hits.splice(0)) {
    const actor = h.alert.group['actor.id'];
    const s = actor ? sentAt.get(actor) : undefined;
    if (h.kind === 'fired' && s !== undefined) latencies.push(h.receivedAt - s);
  }
  const spent = Date.now() - started;
  if (spent < tickMs) await new Promise((r) => setTimeout(r, tickMs - spent));
}
await new Promise((r) => setTimeout(r, 3000));
for (const h of hook.hits.splice(0)) {
  const actor = h.alert.group['actor.id'];
  const s = actor ? sentAt.get(actor) : undefined;
  if (h.kind === 'fired' && s !== undefined) latencies.push(h.receivedAt - s);
}
latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];
console.log(
  JSON.stringify({
    background_events: background,
    background_rate_per_s: Math.round(background / seconds),
    probes: probe,
    alerts: latencies.length,
    p50_ms: pct(50),
    p90_ms: pct(90),
    p99_ms: pct(99),
    max_ms: latencies.at(-1),
  }),
);
await producer.disconnect();
await app.stop();
await hook.close();
await topics.drop();
