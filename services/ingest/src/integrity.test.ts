import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import type { ClickHouse } from '@auditstream/clickhouse';
import { AuditstreamError } from '@auditstream/core';
import { generateSigningKey, loadSigningKey } from '@auditstream/integrity';
import { createLogger } from '@auditstream/observability';
import { Registry } from 'prom-client';
import { createIngestIntegrity } from './integrity.js';
import { FatalIngestError } from './pipeline/process.js';
import type { DeadLetter, SourceMessage } from './types.js';

const pair = generateSigningKey();
const signingKey = loadSigningKey(pair.privatePem, 'test');

function integrity(insertJson: ClickHouse['insertJson'], published: { partition: number }[] = []) {
  const ch = { database: 'db', insertJson, queryRows: async () => [] } as unknown as ClickHouse;
  return createIngestIntegrity({
    ch,
    signingKey,
    config: { checkpoint_every_events: 100, checkpoint_interval_ms: 60_000, public_key_files: [] },
    publisher: {
      publish: async (c) => {
        published.push(c);
      },
    },
    registry: new Registry(),
    logger: createLogger({ service: 'test', level: 'silent' }),
    retry: { initial_delay_ms: 1, max_delay_ms: 2 },
    signal: new AbortController().signal,
  });
}

function dead(partition: number, offset: string, value: Buffer | null): DeadLetter {
  const source: SourceMessage = { topic: 'events', partition, offset, timestamp: '1700000000000', key: null, value, headers: {}, size: 1 };
  return { source, errorClass: 'not_avro', reason: 'not a single-object or Confluent-framed Avro payload' };
}

test('dead letters are recorded in dlq_decisions: where, the error class, SHA-256 of the value (never the value)', async () => {
  const calls: { table: string; rows: readonly Record<string, unknown>[] }[] = [];
  const i = integrity(async (table, rows) => {
    calls.push({ table, rows });
  });
  await i.recordDeadLetters([dead(3, '17', Buffer.from('poison')), dead(0, '18446744073709551615', null)]);
  await i.recordDeadLetters([]);
  assert.equal(calls.length, 1, 'one INSERT per flush, none without dead letters');
  assert.equal(calls[0]?.table, 'dlq_decisions');
  const rows = calls[0]?.rows ?? [];
  assert.deepEqual(
    rows.map((r) => [r.topic, r.partition, r.offset, r.reason, r.raw_sha256]),
    [
      ['events', 3, '17', 'not_avro', createHash('sha256').update('poison').digest('hex')],
      ['events', 0, '18446744073709551615', 'not_avro', createHash('sha256').update('').digest('hex')],
    ],
  );
  assert.ok(!JSON.stringify(rows).includes('poison'), 'the payload is not stored');
});

test('recording dead-letter decisions: transient failures are retried, a permanent one is fatal (nothing committed)', async () => {
  let attempts = 0;
  const flaky = integrity(async () => {
    if (++attempts < 3) throw new AuditstreamError('CLICKHOUSE_UNAVAILABLE', 'down', { retriable: true });
  });
  await flaky.recordDeadLetters([dead(0, '1', Buffer.from('x'))]);
  assert.equal(attempts, 3);

  const broken = integrity(async () => {
    throw new AuditstreamError('CLICKHOUSE_SCHEMA', 'table dlq_decisions does not exist');
  });
  await assert.rejects(
    broken.recordDeadLetters([dead(0, '1', Buffer.from('x'))]),
    (err: unknown) => err instanceof FatalIngestError && err.code === 'CLICKHOUSE_SCHEMA' && /auditstream migrate/.test(err.message),
  );
});

test("checkpoints are signed only for owned partitions: a lost partition's pending checkpoint is dropped (the new owner signs), an owned one is stored then published", async () => {
  const stored: number[] = [];
  const published: { partition: number }[] = [];
  const i = integrity(async (table, rows) => {
    if (table === 'checkpoints') for (const r of rows) stored.push(r.partition as number);
  }, published);
  i.onAssigned('events', [0, 1]);
  const head = { offset: 10, chain_seq: 11, hash: 'a'.repeat(64) };
  i.checkpointer.inserted('events', 0, head, 5);
  i.checkpointer.inserted('events', 1, head, 5);
  i.onAssigned('events', [1]); // partition 0 went to another instance
  await i.flush();
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(stored, [1]);
  assert.deepEqual(
    published.map((c) => c.partition),
    [1],
  );

  i.checkpointer.inserted('events', 1, { ...head, offset: 20, chain_seq: 21 }, 5);
  i.leftGroup(); // shutdown: the group was left before this flush
  await i.stop();
  assert.deepEqual(stored, [1], 'nothing signed after leaving the group');
});
