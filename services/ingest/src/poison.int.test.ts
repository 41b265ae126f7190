import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { createClickHouse } from '@auditstream/clickhouse';
import { createCodec } from '@auditstream/codec';
import { repoRoot } from '@auditstream/core';
import { createMetricsRegistry } from '@auditstream/observability';
import { createEventNormalizer } from '@auditstream/producer';
import type { AuditEventInput } from '@auditstream/schemas';
import { countStored, createTestEnv, quietLogger, sampleInput, scrape, waitFor } from '@auditstream/test';
import { Partitioners } from 'kafkajs';
import { createIngest } from './app.js';
import { integrityFromConfig } from './integrity.js';
import { DLQ_HEADERS } from './pipeline/dlq.js';
import { clickhouseWriter, detectLayout } from './storage.js';
import { replayDlq, scanDlq } from './tools/dlq.js';

const GOOD = 2000;
const POISON = 100;

test(`${POISON} poison messages interleaved with ${GOOD} good ones: every poison message in the DLQ with its headers, every good event stored`, async (t) => {
  const env = await createTestEnv({ partitions: 2 });
  t.after(() => env.cleanup());
  const codec = createCodec();
  const normalize = createEventNormalizer();
  const now = Date.now();
  const full = (i: number, over: Partial<AuditEventInput> = {}) => ({ ...normalize(sampleInput(env.tenant, i), now), ...over }) as AuditEventInput;

  const messages: { key: string; value: Buffer; headers: Record<string, string>; kind: string }[] = [];
  const secretAction = 'leaked.value_7f3a';
  for (let i = 0; i < GOOD + POISON; i++) {
    const key = `k${i % 7}`;
    const p = Math.floor((i * POISON) / (GOOD + POISON));
    const isPoison = Math.floor(((i + 1) * POISON) / (GOOD + POISON)) > p;
    if (!isPoison) {
      messages.push({ key, value: codec.encodeSync(full(i)), headers: {}, kind: 'good' });
      continue;
    }
    const n = messages.filter((m) => m.kind !== 'good').length;
    if (n % 3 === 0) messages.push({ key, value: Buffer.from(`{"not":"avro","n":${i}}`), headers: { traceparent: `00-${i}` }, kind: 'not_avro' });
    else if (n % 3 === 1) {
      const body = codec.encodeSync(full(i)).subarray(10);
      messages.push({
        key,
        value: Buffer.concat([Buffer.from([0xc3, 0x01]), randomBytes(8), body]),
        headers: { traceparent: `00-${i}` },
        kind: 'unknown_schema',
      });
    } else
      messages.push({ key, value: codec.encodeSync(full(i, { action: `Bad Action ${secretAction}` })), headers: { traceparent: `00-${i}` }, kind: 'invalid' });
  }
  const expected = { not_avro: 0, unknown_schema: 0, invalid: 0 } as Record<string, number>;
  for (const m of messages) if (m.kind !== 'good') expected[m.kind] = (expected[m.kind] ?? 0) + 1;
  assert.equal(messages.filter((m) => m.kind !== 'good').length, POISON);

  const producer = env.kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  await producer.send({ topic: env.topic, acks: -1, messages: messages.map(({ key, value, headers }) => ({ key, value, headers })) });
  await producer.disconnect();

  const registry = createMetricsRegistry({ service: 'ingest-test' });
  const ch = createClickHouse(env.config.clickhouse, { logger: quietLogger() });
  const app = createIngest({
    config: env.config,
    logger: quietLogger(),
    registry,
    storage: { prepare: async () => clickhouseWriter(ch, await detectLayout(ch)), ping: () => ch.ping(), close: () => ch.close() },
    integrity: integrityFromConfig(env.config.integrity, ch),
    decoder: codec,
  });
  t.after(() => app.stop());
  await app.start();
  const url = app.metricsUrl() as string;

  await waitFor(
    'every good event stored',
    () => countStored(env.ch, env.tenant),
    (n) => n >= GOOD,
    60_000,
  );
  const dead = await waitFor(
    'every poison message dead-lettered',
    () => scanDlq(env.kafka, env.dlq, { timeoutMs: 10_000 }),
    (d) => d.length >= POISON,
    60_000,
    500,
  );
  assert.equal(await countStored(env.ch, env.tenant), GOOD);
  assert.equal(dead.length, POISON);

  const byClass: Record<string, number> = {};
  const originals = new Map(messages.map((m) => [m.value.toString('hex'), m]));
  for (const d of dead) {
    byClass[d.errorClass] = (byClass[d.errorClass] ?? 0) + 1;
    const orig = originals.get((d.value as Buffer).toString('hex'));
    assert.ok(orig, 'the dead letter carries the original bytes, untouched');
    assert.equal(orig.kind, d.errorClass);
    assert.equal(String(d.key), orig.key, 'original key kept');
    assert.equal(String(d.headers.traceparent), orig.headers.traceparent, 'original headers kept');
    assert.equal(d.sourceTopic, env.topic);
    assert.match(d.sourcePartition, /^[01]$/);
    assert.match(d.sourceOffset, /^\d+$/);
    assert.match(d.sourceTimestamp, /^\d{13}$/, 'the original timestamp is kept in a header');
    assert.ok(!Number.isNaN(Date.parse(d.firstSeen)), 'first-seen is a timestamp');
    assert.ok(d.errorMessage.length > 0);
    assert.ok(!d.errorMessage.includes(secretAction), 'the error message names the field, never the value');
  }
  assert.deepEqual(byClass, expected);
  assert.equal(await scrape(url, 'auditstream_ingest_dead_lettered_events_total'), POISON);
  assert.equal(await scrape(url, 'auditstream_ingest_inserted_events_total'), GOOD);
  assert.equal(await scrape(url, 'auditstream_ingest_received_events_total'), GOOD + POISON);
  const ready = await fetch(`${url}/readyz`);
  assert.equal(ready.status, 200, await ready.text());

  // The source offsets in the headers point at the original messages.
  const first = dead[0];
  assert.ok(first);
  assert.equal(String(first.headers[DLQ_HEADERS.sourceOffset]), first.sourceOffset);

  // `auditstream dlq inspect` shows what is there and why.
  const cli = join(repoRoot(), 'services', 'cli', 'bin', 'auditstream.js');
  const { stdout } = await promisify(execFile)(process.execPath, [cli, 'dlq', 'inspect', '--limit', '1000'], {
    env: { PATH: process.env.PATH, AUDITSTREAM_TOPICS__DLQ: env.dlq, AUDITSTREAM_TOPICS__EVENTS: env.topic },
  });
  assert.match(stdout, new RegExp(`${POISON} dead letter\\(s\\) in ${env.dlq.replace(/\./g, '\\.')}, by error class:`));
  for (const [c, n] of Object.entries(expected)) assert.match(stdout, new RegExp(`^\\s+${c}\\s+${n}$`, 'm'));

  // Replaying the invalid ones re-publishes the same bytes; they fail again and come back, first-seen kept.
  const replay = await replayDlq(env.kafka, { dlq: env.dlq, events: env.topic }, { errorClass: 'invalid' });
  assert.equal(replay.replayed.length, expected.invalid);
  const again = await waitFor(
    'replayed dead letters back in the DLQ',
    () => scanDlq(env.kafka, env.dlq, { timeoutMs: 10_000 }),
    (d) => d.length >= POISON + (expected.invalid as number),
    60_000,
    500,
  );
  const firstSeen = new Map(dead.filter((d) => d.errorClass === 'invalid').map((d) => [(d.value as Buffer).toString('hex'), d.firstSeen]));
  const seen = new Set(dead.map((d) => `${d.partition}:${d.offset}`));
  const second = again.filter((d) => !seen.has(`${d.partition}:${d.offset}`));
  assert.equal(second.length, expected.invalid);
  for (const d of second) assert.equal(d.firstSeen, firstSeen.get((d.value as Buffer).toString('hex')));
  assert.equal(await countStored(env.ch, env.tenant), GOOD);

  const res = await app.stop();
  assert.equal(res.clean, true);
});
