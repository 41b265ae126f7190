import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import {
  type ClickHouse,
  createClickHouse,
  type EventRow,
  eventColumnTypes,
  insertRows,
  layoutFor,
  migrate,
  rowBinaryEncoder,
  STREAM_MIN_ROWS,
  toRow,
} from '@auditstream/clickhouse';
import { configSchema, loadConfig } from '@auditstream/config';
import { uniqueName, uuidv7 } from '@auditstream/core';
import { quietLogger, startTcpProxy, type TcpProxy, waitFor } from '@auditstream/test';

// An INSERT whose request is cut midway (ingest killed: its socket closed with a FIN; or the
// connection reset) against the real ClickHouse, through a proxy that forwards a prefix of the
// request and then cuts. A plain body (JSONEachRow or RowBinary) that ends at a row boundary is a
// complete body to ClickHouse 18.16 (it does not check the length): the rows before the cut were
// stored, and the redelivered batch then stored them twice. Every body is therefore sent in a gzip
// frame (level 0 with clickhouse.compression none), which fails whole when cut. (In test/integration,
// not beside insert-stream.int.test.ts: the kit depends on @auditstream/clickhouse.)

const cfg = loadConfig(configSchema, {}).clickhouse;
const DB = uniqueName('insert_cut');
const ROWS = 3 * STREAM_MIN_ROWS;
let direct: ClickHouse;
let proxy: TcpProxy;

before(async () => {
  direct = createClickHouse({ ...cfg, database: DB }, { logger: quietLogger() });
  await migrate(direct);
  const url = new URL(cfg.url);
  proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port) });
});
after(async () => {
  await direct.command(`DROP DATABASE IF EXISTS ${DB}`);
  await direct.close();
  await proxy.close();
});

async function rows(topic: string, n: number): Promise<EventRow[]> {
  const layout = layoutFor(await direct.capabilities());
  return Array.from({ length: n }, (_, i) =>
    toRow(
      {
        event_id: uuidv7(1_735_689_600_000 + i),
        tenant_id: 'tenant-cut',
        occurred_at: 1_735_689_600_000_000 + i,
        actor: { id: `user-${i % 7}`, type: 'user' },
        action: 'document.read',
        category: 'resource_access',
        outcome: 'success',
        service: 'it',
        attributes: { n: String(i), pad: randomBytes(96).toString('hex') },
      },
      { received_at: 1_735_689_601_000, kafka_topic: topic, kafka_partition: 0, kafka_offset: i },
      layout,
    ),
  );
}

async function stored(topic: string): Promise<number> {
  const [r] = await direct.queryRows<{ n: string }>(`SELECT count() AS n FROM ${DB}.events WHERE kafka_topic = '${topic}'`);
  return Number(r?.n);
}

// Each insert format and compression mode, large (streamed) and small (JSONEachRow: the client's
// insert()) batches, cut with a FIN and with a reset; without compression right at a row boundary
// (the case a plain body cannot tell from its end): after a JSON row's closing `}\n`, before a
// binary row's first column (tenant_id: its length byte, 10 = '\n', and 'tenant-cut').
const CASES = (['json_each_row', 'row_binary'] as const).flatMap((format) =>
  (['none', 'gzip'] as const).flatMap((compression) =>
    [ROWS, STREAM_MIN_ROWS - 1].flatMap((n) => (['end', 'reset'] as const).map((how) => ({ format, compression, n, how }))),
  ),
);
const ROW_BOUNDARY = { json_each_row: { at: '}\n' }, row_binary: { at: '\ntenant-cut', before: true } };

for (const { format, compression, n, how } of CASES) {
  test(`an INSERT of ${n} rows (${format}, compression ${compression}) cut midway by a ${how === 'end' ? 'FIN' : 'reset'} stores nothing`, async () => {
    const topic = `audit.cut.${format}.${compression}.${n}.${how}`;
    const batch = await rows(topic, n);
    const ch = createClickHouse({ ...cfg, url: proxy.url, database: DB, compression, insert_format: format }, { logger: quietLogger() });
    try {
      const layout = layoutFor(await direct.capabilities());
      const bodyBytes =
        format === 'row_binary'
          ? rowBinaryEncoder(eventColumnTypes(layout))(batch as unknown as Record<string, unknown>[], 0, n).length
          : batch.reduce((s, r) => s + JSON.stringify(r).length + 1, 0);
      // gzip shrinks these rows 2× (binary) to 6× (JSON; random padding): a twentieth of the plain size
      // is well inside its body (where a row boundary means nothing: cut anywhere).
      const cutAt = Math.floor(bodyBytes / (compression === 'gzip' ? 20 : 5));
      const cut = proxy.cutAfter(cutAt, { ...(compression === 'none' ? ROW_BOUNDARY[format] : {}), how });
      await assert.rejects(insertRows(ch, batch), { code: 'CLICKHOUSE_UNAVAILABLE' });
      const { forwarded } = await cut;
      assert.ok(forwarded < bodyBytes / 2, `the request was cut midway (${forwarded} bytes forwarded)`);
      // The connection is closed; the server may still be finishing the query it was running on it.
      await waitFor(
        'the cut INSERT finished on the server',
        async () =>
          (
            await direct.queryRows<{ n: string }>(
              `SELECT count() AS n FROM system.processes WHERE startsWith(query, 'INSERT') AND position(query, '${DB}') > 0`,
            )
          )[0]?.n,
        (v) => v === '0',
        30_000,
      );
      assert.equal(await stored(topic), 0, 'no row of the cut INSERT is stored');
      // The same batch sent again in full is stored once.
      await insertRows(ch, batch);
      assert.equal(await stored(topic), n);
    } finally {
      await ch.close();
    }
  });
}
