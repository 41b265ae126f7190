import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AuditstreamError, isAuditstreamError } from '@auditstream/core';
import { createLogger } from '@auditstream/observability';
import kafkajs, { type Admin, type Kafka, type KafkaMessage } from 'kafkajs';
import { Registry } from 'prom-client';
import { alertingSection } from './config.js';
import { createAlertingMetrics } from './metrics.js';
import { EvaluatedOffsets } from './progress.js';
import { createRebuilder } from './replay.js';
import { decodeAlert } from './sinks/alert-codec.js';
import { ev, oneRule, T0, testEngine } from './testing.js';

// The rebuild at group join (replay.ts) over a fake Kafka: an admin whose committed-offsets read
// fails N times the way a partition of a just-created topic does, and a consumer that hands the
// replayed records over like kafkajs (a handler's error crashes it without restart).

// kafkajs is CommonJS: its error classes are not named ESM exports.
const { KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError } = kafkajs;

const EVENTS = 'events';
const ALERTS = 'alerts';

/** What kafkajs's admin throws when its own retries run out on a partition that has no leader yet. */
const unknownTopic = () =>
  new KafkaJSNumberOfRetriesExceeded(
    new KafkaJSProtocolError({
      type: 'UNKNOWN_TOPIC_OR_PARTITION',
      code: 3,
      retriable: true,
      message: 'This server does not host this topic-partition',
    } as unknown as Error),
    { retryCount: 5, retryTime: 1000 },
  );

/** Six failed logins of one actor, the offsets 0..5 of events partition 0: a brute-force incident. */
const records: KafkaMessage[] = Array.from({ length: 6 }, (_, i) => ({
  offset: String(i),
  key: null,
  value: Buffer.from(JSON.stringify(ev({}, T0 + i * 1000))),
  timestamp: String(T0 + i * 1000),
  attributes: 0,
  headers: {},
}));

function fakeKafka(o: { committedFailures: number; evaluate?: (m: KafkaMessage) => void }) {
  const calls = { committed: 0 };
  let failuresLeft = o.committedFailures;
  const from = new Map<number, bigint>();
  const admin = {
    fetchTopicOffsets: async (topic: string) =>
      topic === ALERTS ? [{ partition: 0, offset: '0', low: '0', high: '0' }] : [{ partition: 0, offset: '6', low: '0', high: '6' }],
    fetchTopicOffsetsByTimestamp: async () => [{ partition: 0, offset: '0' }],
    fetchOffsets: async () => {
      calls.committed++;
      if (failuresLeft-- > 0) throw unknownTopic();
      return [{ topic: EVENTS, partitions: [{ partition: 0, offset: '6', metadata: null }] }];
    },
    setOffsets: async ({ partitions }: { partitions: Array<{ partition: number; offset: string }> }) => {
      for (const p of partitions) from.set(p.partition, BigInt(p.offset));
    },
    deleteGroups: async () => [],
  } as unknown as Admin;
  const kafka = {
    consumer: () => {
      let onCrash: (e: { payload: { error: unknown; restart: boolean } }) => void = () => {};
      return {
        events: { CRASH: 'consumer.crash' },
        on: (_event: string, fn: typeof onCrash) => {
          onCrash = fn;
        },
        connect: async () => {},
        subscribe: async () => {},
        disconnect: async () => {},
        run: async ({ eachBatch }: { eachBatch: (p: unknown) => Promise<void> }) => {
          const messages = records.filter((m) => BigInt(m.offset) >= (from.get(0) ?? 0n));
          setImmediate(() => {
            eachBatch({
              batch: { partition: 0, messages, lastOffset: () => messages.at(-1)?.offset ?? '-1' },
              heartbeat: async () => {},
              isRunning: () => true,
            }).catch((error: unknown) => onCrash({ payload: { error, restart: false } }));
          });
        },
      };
    },
  } as unknown as Kafka;
  return { kafka, admin, calls };
}

function setUp(o: { committedFailures: number; replayTimeoutMs?: number; evaluate?: (m: KafkaMessage) => void }) {
  const fake = fakeKafka(o);
  const registry = new Registry();
  const metrics = createAlertingMetrics(registry, () => 0);
  const t = testEngine(oneRule('{ id: bf, type: threshold, group_by: [actor.id], threshold: { count: 6, window_s: 60 } }'));
  const rebuilder = createRebuilder({
    kafka: fake.kafka,
    config: alertingSection.parse({ replay_timeout_ms: o.replayTimeoutMs ?? 60_000 }),
    topics: { events: EVENTS, alerts: ALERTS },
    decodeAlert,
    metrics,
    log: createLogger({ service: 'replay-test', level: 'silent' }),
    evaluated: new EvaluatedOffsets(),
    evaluate: async (m) => {
      o.evaluate?.(m);
      t.engine.process(JSON.parse(String(m.value)), Number(m.timestamp));
    },
  });
  const errors = async (outcome: string) => (await metrics.rebuildErrors.get()).values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
  return { ...fake, ...t, rebuild: () => rebuilder.rebuild(fake.admin, t.engine, [0]), errors };
}

test('a rebuild that meets retriable Kafka errors retries them and completes: the incident in the replayed records fires', async () => {
  const s = setUp({ committedFailures: 3 });
  await s.rebuild();
  assert.equal(s.calls.committed, 4, 'three failed attempts, then one that succeeded');
  assert.equal(await s.errors('retried'), 3);
  assert.equal(await s.errors('failed'), 0);
  assert.deepEqual(
    s.fired().map((a) => a.group_key),
    ['tenant_id=acme&actor.id=alice'],
    'the six replayed failures make the incident (never delivered before, so it fires)',
  );
});

test('a data error is not retried: the rebuild fails at once with REBUILD_FAILED and the cause', async () => {
  const bad = new AuditstreamError('EVENTS_INVALID', 'a record the rules cannot take', { retriable: false });
  const s = setUp({
    committedFailures: 0,
    evaluate: (m) => {
      if (m.offset === '2') throw bad;
    },
  });
  await assert.rejects(s.rebuild(), (err: unknown) => isAuditstreamError(err) && err.code === 'REBUILD_FAILED' && err.cause === bad);
  assert.equal(s.calls.committed, 1, 'one attempt');
  assert.equal(await s.errors('retried'), 0);
  assert.equal(await s.errors('failed'), 1);
});

test('retriable errors that outlast replay_timeout_ms end the rebuild with REBUILD_FAILED naming the key', async () => {
  const s = setUp({ committedFailures: Number.POSITIVE_INFINITY, replayTimeoutMs: 600 });
  await assert.rejects(
    s.rebuild(),
    (err: unknown) =>
      isAuditstreamError(err) &&
      err.code === 'REBUILD_FAILED' &&
      err.field === 'alerting.replay_timeout_ms' &&
      /within alerting\.replay_timeout_ms/.test(err.message),
  );
  assert.ok(s.calls.committed >= 2, 'retried before giving up');
  assert.equal(await s.errors('failed'), 1);
  assert.equal(s.fired().length, 0);
});
