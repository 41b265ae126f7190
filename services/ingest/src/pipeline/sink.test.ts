import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AuditstreamError } from '@auditstream/core';
import { Registry } from 'prom-client';
import { createIngestMetrics } from '../metrics.js';
import type { IngestRecord } from '../types.js';
import { FatalIngestError } from './process.js';
import { createSink, type StorageWriter } from './sink.js';

const rec = (i: number) => ({ event: { event_id: String(i) }, source: { offset: String(i) } }) as unknown as IngestRecord;
const ids = (rs: readonly IngestRecord[]) => rs.map((r) => Number(r.event.event_id));

function fakeStorage(insert: (rows: number[]) => Promise<void>, toRow?: (r: IngestRecord) => number): StorageWriter<number> & { calls: number[][] } {
  const calls: number[][] = [];
  return {
    calls,
    toRow: toRow ?? ((r) => Number(r.event.event_id)),
    insert: async (rows) => {
      calls.push(rows);
      await insert(rows);
    },
    classify: (err) => (err instanceof AuditstreamError ? err : new AuditstreamError('CLICKHOUSE_QUERY', 'x')),
  };
}

function sinkWith(storage: StorageWriter<number>, signal = new AbortController().signal) {
  const metrics = createIngestMetrics(new Registry());
  return { metrics, write: createSink({ storage, metrics, retry: { initial_delay_ms: 1, max_delay_ms: 5 }, signal }) };
}

const dataError = () => new AuditstreamError('CLICKHOUSE_DATA', 'could not parse a row (code 27, column severity)', { field: 'severity' });

test('one INSERT for the whole batch when nothing is wrong', async () => {
  const storage = fakeStorage(async () => {});
  const { write } = sinkWith(storage);
  const res = await write([rec(1), rec(2), rec(3)]);
  assert.deepEqual(ids(res.inserted), [1, 2, 3]);
  assert.equal(res.rejected.length, 0);
  assert.deepEqual(storage.calls, [[1, 2, 3]]);
});

test('transient errors are retried with backoff until they pass, and counted', async () => {
  let failures = 3;
  const storage = fakeStorage(async () => {
    if (failures-- > 0) throw new AuditstreamError('CLICKHOUSE_UNAVAILABLE', 'down', { retriable: true });
  });
  const { write, metrics } = sinkWith(storage);
  const res = await write([rec(1), rec(2)]);
  assert.deepEqual(ids(res.inserted), [1, 2]);
  assert.equal(storage.calls.length, 4);
  assert.equal((await metrics.insertRetries.get()).values[0]?.value, 3);
});

test('data errors bisect the batch: bad rows are isolated for the DLQ, the rest is inserted', async () => {
  const bad = new Set([3, 6]);
  const storage = fakeStorage(async (rows) => {
    if (rows.some((r) => bad.has(r))) throw dataError();
  });
  const { write } = sinkWith(storage);
  const res = await write([1, 2, 3, 4, 5, 6, 7, 8].map(rec));
  assert.deepEqual(ids(res.inserted).sort(), [1, 2, 4, 5, 7, 8]);
  assert.deepEqual(ids(res.rejected.map((r) => r.record)).sort(), [3, 6]);
  assert.match(res.rejected[0]?.reason ?? '', /^CLICKHOUSE_DATA \(severity\)/);
  assert.ok(res.statements <= 1 + 2 * 2 * Math.ceil(Math.log2(8)), `bisection used ${res.statements} statements`);
});

test('rows the mapping refuses are rejected without an INSERT', async () => {
  const storage = fakeStorage(
    async () => {},
    (r) => {
      if (r.event.event_id === '2') throw dataError();
      return Number(r.event.event_id);
    },
  );
  const { write } = sinkWith(storage);
  const res = await write([rec(1), rec(2), rec(3)]);
  assert.deepEqual(ids(res.inserted), [1, 3]);
  assert.deepEqual(ids(res.rejected.map((r) => r.record)), [2]);
  assert.deepEqual(storage.calls, [[1, 3]]);
});

test('authentication errors stop the service with a clear message, without retrying', async () => {
  const storage = fakeStorage(async () => {
    throw new AuditstreamError('CLICKHOUSE_AUTH', 'ClickHouse rejected the credentials (code 516) during insert');
  });
  const { write } = sinkWith(storage);
  await assert.rejects(write([rec(1)]), (err: unknown) => {
    assert.ok(err instanceof FatalIngestError);
    assert.equal(err.code, 'CLICKHOUSE_AUTH');
    assert.match(err.message, /check clickhouse\.username and clickhouse\.password/);
    return true;
  });
  assert.equal(storage.calls.length, 1);
});

test('schema errors are fatal and point at migrate', async () => {
  const storage = fakeStorage(async () => {
    throw new AuditstreamError('CLICKHOUSE_SCHEMA', 'table missing');
  });
  const { write } = sinkWith(storage);
  await assert.rejects(write([rec(1)]), /auditstream migrate/);
});

test('retries stop when the service gives up (shutdown bound): the batch fails, nothing is committed', async () => {
  const ac = new AbortController();
  const storage = fakeStorage(async () => {
    throw new AuditstreamError('CLICKHOUSE_TIMEOUT', 'slow', { retriable: true });
  });
  const { write } = sinkWith(storage, ac.signal);
  setTimeout(() => ac.abort(), 30);
  await assert.rejects(write([rec(1)]), (err: unknown) => err instanceof FatalIngestError && err.code === 'CLICKHOUSE_TIMEOUT');
});

test('after an INSERT, a transient failure of the duplicate record retries the record alone, never the INSERT', async () => {
  const storage = fakeStorage(async () => {});
  const recorded: number[][] = [];
  let failures = 2;
  storage.afterInsert = async (rows) => {
    recorded.push(rows);
    if (failures-- > 0) throw new AuditstreamError('CLICKHOUSE_UNAVAILABLE', 'down', { retriable: true });
  };
  const { write, metrics } = sinkWith(storage);
  const res = await write([rec(1), rec(2)]);
  assert.deepEqual(ids(res.inserted), [1, 2]);
  assert.deepEqual(storage.calls, [[1, 2]], 'the rows are inserted once');
  assert.deepEqual(recorded, [
    [1, 2],
    [1, 2],
    [1, 2],
  ]);
  assert.equal((await metrics.insertRetries.get()).values[0]?.value, 2, 'a write retried during an outage shows in insert_retries_total, whichever it was');
  const errors = (await metrics.errors.get()).values.filter((v) => v.labels.stage === 'after_insert');
  assert.equal(errors[0]?.value, 2);
  assert.equal(errors[0]?.labels.error_type, 'CLICKHOUSE_UNAVAILABLE');
  const stages = new Set((await metrics.stageSeconds.get()).values.map((v) => v.labels.stage));
  assert.ok(stages.has('row_mapping') && stages.has('after_insert'), `timed stages: ${[...stages]}`);
});

test('after an INSERT, a data error of the duplicate record is fatal: no bisection, no second INSERT', async () => {
  const storage = fakeStorage(async () => {});
  let records = 0;
  storage.afterInsert = async () => {
    records++;
    throw dataError();
  };
  const { write } = sinkWith(storage);
  await assert.rejects(
    write([1, 2, 3, 4].map(rec)),
    (e) => e instanceof FatalIngestError && e.code === 'CLICKHOUSE_DATA' && /exact-count record of stored rows/.test(e.message),
  );
  assert.deepEqual(storage.calls, [[1, 2, 3, 4]]);
  assert.equal(records, 1, 'data errors are never retried');
});

test('the duplicate record runs for each piece a bisection stored, and not for the rejected rows', async () => {
  const storage = fakeStorage(async (rows) => {
    if (rows.includes(3)) throw dataError();
  });
  const recorded: number[] = [];
  storage.afterInsert = async (rows) => {
    recorded.push(...rows);
  };
  const { write } = sinkWith(storage);
  const res = await write([1, 2, 3, 4].map(rec));
  assert.deepEqual(ids(res.rejected.map((r) => r.record)), [3]);
  assert.deepEqual(recorded.sort(), [1, 2, 4]);
});
