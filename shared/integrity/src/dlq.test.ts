import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import type { ClickHouse } from '@auditstream/clickhouse';
import { rawSha256, recordDlqDecisions } from './dlq.js';

function fakeCh() {
  const calls: { table: string; rows: readonly Record<string, unknown>[]; columns?: readonly string[] }[] = [];
  const ch = {
    database: 'audit',
    async insertJson(table: string, rows: readonly Record<string, unknown>[], options?: { columns?: readonly string[] }) {
      calls.push({ table, rows, ...(options?.columns ? { columns: options.columns } : {}) });
    },
  } as unknown as ClickHouse;
  return { ch, calls };
}

test('records offset, reason and the SHA-256 of the raw value in one INSERT into dlq_decisions', async () => {
  const { ch, calls } = fakeCh();
  const value = Buffer.from([0xc3, 0x01, 0xff, 0x00]);
  await recordDlqDecisions(ch, [
    { topic: 'audit.events', partition: 2, offset: '41', reason: 'not_avro', value, decided_at: new Date('2026-01-02T03:04:05Z') },
    { topic: 'audit.events', partition: 2, offset: 42n, reason: 'rejected:event_id', value: null },
  ]);
  assert.equal(calls.length, 1);
  assert.equal(calls[0]?.table, 'dlq_decisions');
  assert.deepEqual(calls[0]?.columns, ['topic', 'partition', 'offset', 'reason', 'raw_sha256', 'decided_at']);
  assert.deepEqual(calls[0]?.rows[0], {
    topic: 'audit.events',
    partition: 2,
    offset: '41',
    reason: 'not_avro',
    raw_sha256: createHash('sha256').update(value).digest('hex'),
    decided_at: Date.parse('2026-01-02T03:04:05Z') / 1000,
  });
  assert.equal(calls[0]?.rows[1]?.raw_sha256, rawSha256(Buffer.alloc(0)));
  assert.equal(calls[0]?.rows[1]?.offset, '42');
});

test('nothing to record sends nothing; bad decisions are refused naming the field', async () => {
  const { ch, calls } = fakeCh();
  await recordDlqDecisions(ch, []);
  assert.equal(calls.length, 0);
  await assert.rejects(recordDlqDecisions(ch, [{ topic: 't', partition: 0, offset: -1, reason: 'x' }]), /offset/);
  await assert.rejects(recordDlqDecisions(ch, [{ topic: 't', partition: 0, offset: 1, reason: '' }]), /reason/);
  await assert.rejects(recordDlqDecisions(ch, [{ topic: 't', partition: 0, offset: 1, reason: 'x', raw_sha256: 'nope' }]), /raw_sha256/);
});
