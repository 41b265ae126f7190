import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { createCodec } from '@auditstream/codec';
import { uuidv7 } from '@auditstream/core';
import { scanDlq } from '@auditstream/ingest';
import type { AuditEventInput } from '@auditstream/schemas';
import { countStored, type TestEnv, waitFor } from '@auditstream/test';
import { type InProcessPipeline, startPipeline } from '../helpers/pipeline.js';

// Each class of invalid event, published raw (kafkajs + @auditstream/codec, no SDK) to the
// events topic read by the real ingest and the real alerting (their app.ts factories), on the
// local Kafka and ClickHouse. Every class is a burst of failed logins by one actor, enough to
// trip brute_force if it were evaluated. Each must be dead-lettered naming the right field,
// stored never, and alert never; a valid burst published last must alert (so this can fail).

const BURST = 6; // brute_force: 6 failed logins of one actor within 60 s
const SERVICE = 'idp-login-service';
const codec = createCodec();

// brute_force as shipped, plus the same threshold without the action filter (so the bad-action
// burst would trip something if it were evaluated).
const RULES = `version: 1
rules:
  - id: brute_force
    name: Brute-force login attempts
    type: threshold
    severity: high
    filter:
      all:
        - { field: action, eq: auth.login }
        - { field: outcome, in: [failure, denied] }
    group_by: [actor.id]
    threshold: { count: ${BURST}, window_s: 60 }
    summary: "{count} failed logins for {group.actor.id}"
  - id: failures_any_action
    name: Repeated failures, any action
    type: threshold
    severity: medium
    filter: { field: outcome, eq: failure }
    group_by: [actor.id]
    threshold: { count: ${BURST}, window_s: 60 }
    summary: "{count} failures for {group.actor.id}"
`;

interface InvalidClass {
  name: string;
  actor: string;
  /** The DLQ error class and what the reason must say. */
  errorClass: string;
  reason: RegExp;
  bytes: (i: number, now: number) => Buffer;
}

let env: TestEnv;
let tenant: string;
const login = (actor: string, i: number, now: number, over: Partial<AuditEventInput> = {}): AuditEventInput => ({
  event_id: uuidv7(now + i),
  tenant_id: tenant,
  occurred_at: (now + i * 50) * 1000,
  actor: { id: actor, type: 'user', ip: '198.51.100.10' },
  action: 'auth.login',
  category: 'authentication',
  outcome: 'failure',
  service: SERVICE,
  ...over,
});
const encoded = (e: AuditEventInput) => Buffer.from(codec.encodeSync(e));

const CLASSES: InvalidClass[] = [
  {
    name: 'bad id (UUIDv4)',
    actor: 'bad-id',
    errorClass: 'invalid',
    reason: /\(event_id\): event_id must be a lowercase UUIDv7/,
    bytes: (i, now) => encoded(login('bad-id', i, now, { event_id: randomUUID() })),
  },
  {
    name: 'bad action',
    actor: 'bad-action',
    errorClass: 'invalid',
    reason: /\(action\): action must be/,
    bytes: (i, now) => encoded(login('bad-action', i, now, { action: 'Auth Login' })),
  },
  {
    name: 'bad IP',
    actor: 'bad-ip',
    errorClass: 'invalid',
    reason: /\(actor\.ip\): actor\.ip must be an IPv4 or IPv6 address/,
    bytes: (i, now) => encoded(login('bad-ip', i, now, { actor: { id: 'bad-ip', type: 'user', ip: '198.51.100.300' } })),
  },
  {
    name: 'empty actor.id',
    actor: '',
    errorClass: 'invalid',
    reason: /\(actor\.id\): actor\.id must be a non-empty string/,
    bytes: (i, now) => encoded(login('', i, now)),
  },
  {
    name: '"" in an optional string',
    actor: 'empty-reason',
    errorClass: 'invalid',
    reason: /\(reason\): reason must not be an empty string/,
    bytes: (i, now) => encoded(login('empty-reason', i, now, { reason: '' })),
  },
  {
    // Ahead of the Kafka timestamp by more than the window (alerting alone would clamp and count it).
    name: 'out-of-window time',
    actor: 'future',
    errorClass: 'invalid',
    reason: /\(occurred_at\): occurred_at is more than 300000 ms in the future/,
    bytes: (i, now) => encoded(login('future', i, now, { occurred_at: (now + 10 * 60_000 + i) * 1000 })),
  },
  {
    name: 'truncated bytes',
    actor: 'truncated',
    errorClass: 'not_avro',
    reason: /^CODEC_TRUNCATED: .*payload ends inside service$/,
    bytes: (i, now) => {
      const b = encoded(login('truncated', i, now));
      return b.subarray(0, b.indexOf(Buffer.from(SERVICE)) + 4);
    },
  },
  {
    name: 'trailing bytes',
    actor: 'trailing',
    errorClass: 'not_avro',
    reason: /^CODEC_CORRUPT: .*followed by 2 unexpected trailing bytes/,
    bytes: (i, now) => Buffer.concat([encoded(login('trailing', i, now)), Buffer.from([0, 0])]),
  },
  {
    name: 'wrong fingerprint',
    actor: 'fingerprint',
    errorClass: 'unknown_schema',
    reason: /^CODEC_UNKNOWN_FINGERPRINT: .*fingerprint 0102030405060708/,
    bytes: (i, now) => {
      const b = encoded(login('fingerprint', i, now));
      b.set([1, 2, 3, 4, 5, 6, 7, 8], 2);
      return b;
    },
  },
];

let pipeline: InProcessPipeline;

before(async () => {
  pipeline = await startPipeline({ name: 'invalid', partitions: 1, rulesYaml: RULES });
  env = pipeline.env;
  tenant = env.tenant;
});

after(async () => {
  await pipeline?.stop();
});

async function metricSum(name: string, label?: string): Promise<Record<string, number>> {
  const m = (await pipeline.alertingRegistry.getMetricsAsJSON()).find((x) => x.name === name);
  const out: Record<string, number> = {};
  for (const v of (m?.values ?? []) as Array<{ value: number; labels: Record<string, string> }>) {
    const k = label ? String(v.labels[label]) : 'total';
    out[k] = (out[k] ?? 0) + v.value;
  }
  return out;
}

test('every invalid class is dead-lettered naming its field, never stored, never alerted on; a valid burst alerts', async () => {
  const now = Date.now();
  const messages: { value: Buffer; cls: string }[] = [];
  for (const c of CLASSES) for (let i = 0; i < BURST; i++) messages.push({ value: c.bytes(i, now), cls: c.name });
  const controlIds: string[] = [];
  for (let i = 0; i < BURST; i++) {
    const e = login('control', i, now);
    controlIds.push(e.event_id);
    messages.push({ value: encoded(e), cls: 'control' });
  }
  const invalidCount = CLASSES.length * BURST;

  const producer = env.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer.connect();
  await producer.send({ topic: env.topic, acks: -1, messages: messages.map((m) => ({ key: tenant, value: m.value })) });
  await producer.disconnect();

  // The control burst comes last on the one partition: once its alert is delivered, alerting has
  // evaluated or discarded everything before it.
  await waitFor(
    'the control burst to alert',
    async () => pipeline.delivered.filter((d) => d.kind === 'fired' && d.alert.group['actor.id'] === 'control').length,
    (n) => n >= 1,
    60_000,
  );
  const fired = pipeline.delivered.filter((d) => d.kind === 'fired');
  assert.deepEqual(
    fired.map((d) => `${d.alert.rule_id}:${d.alert.group['actor.id']}`).sort(),
    ['brute_force:control', 'failures_any_action:control'],
    'alerts fire for the valid burst only, never on a record ingest dead-letters',
  );
  const bf = fired.find((d) => d.alert.rule_id === 'brute_force');
  assert.deepEqual([...(bf?.alert.sample_event_ids ?? [])].sort(), [...controlIds].sort(), 'the alert points at stored events');

  const dead = await waitFor(
    'every invalid record dead-lettered',
    () => scanDlq(env.kafka, env.dlq, { timeoutMs: 10_000 }),
    (d) => d.length >= invalidCount,
    60_000,
    500,
  );
  assert.equal(dead.length, invalidCount);
  const classOf = new Map(messages.map((m) => [m.value.toString('hex'), m.cls]));
  for (const c of CLASSES) {
    const mine = dead.filter((d) => classOf.get((d.value as Buffer).toString('hex')) === c.name);
    assert.equal(mine.length, BURST, `${c.name}: every record of the burst dead-lettered, with its original bytes`);
    for (const d of mine) {
      assert.equal(d.errorClass, c.errorClass, `${c.name}: error class`);
      assert.match(d.errorMessage, c.reason, `${c.name}: the reason names the field`);
    }
  }

  assert.equal(
    await waitFor(
      'the control events stored',
      () => countStored(env.ch, tenant),
      (n) => n >= BURST,
      60_000,
    ),
    BURST,
  );
  const stored = await env.ch.queryRows<{ event_id: string }>(`SELECT DISTINCT event_id FROM ${env.database}.events WHERE tenant_id = '${tenant}'`);
  assert.deepEqual(stored.map((r) => r.event_id).sort(), [...controlIds].sort(), 'nothing but the valid burst is stored');

  const discarded = await metricSum('auditstream_alerting_discarded_events_total', 'reason');
  assert.deepEqual(discarded, { invalid: 6 * BURST, not_avro: 2 * BURST, unknown_schema: BURST }, 'alerting discarded what ingest dead-lettered, by class');
  assert.deepEqual(await metricSum('auditstream_alerting_evaluated_events_total'), { total: BURST }, 'only the valid burst was evaluated');
});
