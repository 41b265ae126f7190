import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { type ClickHouse, createClickHouse } from '@auditstream/clickhouse';
import { createCodec } from '@auditstream/codec';
import { createMetricsRegistry } from '@auditstream/observability';
import { committedTotal, countStored, createTestEnv, publishEvents, quietLogger, rowCounts, waitFor } from '@auditstream/test';
import { createIngest, type IngestStorage } from './app.js';
import { integrityFromConfig } from './integrity.js';
import { clickhouseWriter, detectLayout } from './storage.js';

const N = 20_000;

test('a rebalance while a flush is in flight: the instance finishes the INSERT, commits, then gives its partitions up (nothing stored twice)', async (t) => {
  // Small fetches, so A's first round is a small part of the backlog and B has work left after the rebalance.
  const env = await createTestEnv({
    partitions: 4,
    extraEnv: {
      AUDITSTREAM_INGEST__HEARTBEAT_INTERVAL_MS: '500',
      AUDITSTREAM_INGEST__FETCH_MAX_BYTES: String(256 * 1024),
      AUDITSTREAM_INGEST__FETCH_MAX_PARTITION_BYTES: String(64 * 1024),
      AUDITSTREAM_INGEST__FETCH_MIN_BYTES: '1',
    },
  });
  t.after(() => env.cleanup());
  await publishEvents(env.kafka, env.topic, env.tenant, N);

  let slowInsertStarted = false;
  let insertsA = 0;
  const storageFor = (slowFirst: boolean, ch: ClickHouse): IngestStorage => {
    return {
      async prepare() {
        const w = clickhouseWriter(ch, await detectLayout(ch));
        if (!slowFirst) return w;
        return {
          ...w,
          async insert(rows: Parameters<typeof w.insert>[0]) {
            insertsA++;
            if (insertsA === 1) {
              slowInsertStarted = true;
              await delay(6000); // ClickHouse is slow: the rebalance starts meanwhile
            }
            await w.insert(rows);
          },
        };
      },
      ping: () => ch.ping(),
      close: () => ch.close(),
    };
  };
  const make = (slowFirst: boolean) => {
    const ch = createClickHouse(env.config.clickhouse, { logger: quietLogger() });
    return createIngest({
      config: env.config,
      logger: quietLogger(),
      registry: createMetricsRegistry({ service: 'ingest-test' }),
      storage: storageFor(slowFirst, ch),
      integrity: integrityFromConfig(env.config.integrity, ch),
      decoder: createCodec(),
      observability: false,
    });
  };

  const a = make(true);
  t.after(() => a.stop());
  await a.start();
  await waitFor(
    'A inside its first (slow) INSERT',
    async () => slowInsertStarted,
    (v) => v,
    60_000,
    50,
  );
  const stored0 = await countStored(env.ch, env.tenant);
  assert.equal(stored0, 0, 'nothing stored yet');

  // B joins while A waits on ClickHouse: A sees the rebalance in its heartbeat.
  const b = make(false);
  t.after(() => b.stop());
  await b.start();

  await waitFor(
    `all ${N} stored`,
    () => countStored(env.ch, env.tenant),
    (n) => n >= N,
    120_000,
    250,
  );
  await a.stop();
  await b.stop();
  const counts = await rowCounts(env.ch, env.database, env.tenant);
  assert.deepEqual(counts, { raw: N, distinct: N, final: N }, 'no message was stored twice: A committed its in-flight rows before B took the partitions');
  assert.equal(await committedTotal(env.kafka, env.group, env.topic), N);
  const bInserted = (await b.metrics.inserted.get()).values[0]?.value ?? 0;
  const aInserted = (await a.metrics.inserted.get()).values[0]?.value ?? 0;
  assert.ok(bInserted > 0, 'B took over partitions');
  assert.equal(aInserted + bInserted, N);
  t.diagnostic(`A inserted ${aInserted} (first INSERT held 6 s across the rebalance), B ${bInserted}`);
});
