import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { configSchema, loadConfig } from '@auditstream/config';
import { AuditstreamError, uniqueName, uuidv7 } from '@auditstream/core';
import { createLogger } from '@auditstream/observability';
import { layoutFor } from './capabilities.js';
import { type ClickHouse, createClickHouse, STREAM_MIN_ROWS } from './client.js';
import { migrate } from './migrate.js';
import { type AuditEventInput, type EventRow, insertRows, toRow } from './rows.js';

// insertJson sends batches of STREAM_MIN_ROWS rows or more as JSONEachRow text made chunk by chunk
// while the request is sent (ingest's batches); smaller ones go through the client's insert(). Both
// must store the same bytes: checked against the real server (the local stack's).
const cfg = loadConfig(configSchema, {}).clickhouse;
const logger = createLogger({ service: 'clickhouse-stream-int-test', level: 'warn' });
const DB_STREAMED = uniqueName('audit_stream_a');
const DB_SMALL = uniqueName('audit_stream_b');
let streamed: ClickHouse;
let small: ClickHouse;
let plain: ClickHouse;

const TEXTS = ['plain', 'Zoë "quoted" \\ back', 'tab\tnew\nline', '\u0001\u001f\u007f', '\u2028\u4e2d\u{1F600}', ''];

function event(i: number): AuditEventInput {
  const t = TEXTS[i % TEXTS.length] as string;
  return {
    event_id: uuidv7(1_735_689_600_000 + i),
    tenant_id: 'tenant-stream',
    occurred_at: 1_735_689_600_000_000 + i * 1_001,
    actor: { id: `user-${i % 7}`, type: 'user', name: t || null, ip: `10.0.${i % 3}.${i % 250}`, user_agent: i % 2 ? 'Mozilla/5.0' : null },
    action: i % 2 ? 'auth.login' : 'document.read',
    category: i % 2 ? 'authentication' : 'resource_access',
    outcome: 'success',
    reason: t || null,
    service: 'it',
    resource: i % 3 ? { type: 'document', id: `doc-${i}`, name: t || null } : null,
    attributes: i % 4 ? { n: String(i), text: t, [`k${t}`]: 'v' } : null,
  };
}

before(async () => {
  // Large batches are streamed in both modes (a gzip frame, level 0 without compression: client.ts); each must refuse a bad batch whole.
  streamed = createClickHouse({ ...cfg, database: DB_STREAMED, compression: 'gzip' }, { logger });
  plain = createClickHouse({ ...cfg, database: DB_STREAMED, compression: 'none' }, { logger });
  small = createClickHouse({ ...cfg, database: DB_SMALL }, { logger });
  await migrate(streamed);
  await migrate(small);
});
after(async () => {
  await streamed.command(`DROP DATABASE IF EXISTS ${DB_STREAMED}`);
  await small.command(`DROP DATABASE IF EXISTS ${DB_SMALL}`);
  await streamed.close();
  await small.close();
  await plain.close();
});

test('a streamed batch stores exactly what the same rows sent in small batches store', async () => {
  const layout = layoutFor(await streamed.capabilities());
  const n = STREAM_MIN_ROWS * 2 + 345;
  const rows: EventRow[] = [];
  for (let i = 0; i < n; i++)
    rows.push(
      toRow(
        event(i),
        { received_at: 1_735_689_601_000 + i, ingested_at: 1_735_689_601_000 + i, kafka_topic: 'audit.events', kafka_partition: 0, kafka_offset: i },
        layout,
      ),
    );
  await insertRows(streamed, rows);
  for (let i = 0; i < n; i += STREAM_MIN_ROWS - 1) await insertRows(small, rows.slice(i, i + STREAM_MIN_ROWS - 1));
  const all = (db: string) => `SELECT * FROM ${db}.events ORDER BY kafka_offset`;
  const a = await streamed.queryRows<Record<string, unknown>>(all(DB_STREAMED));
  const b = await small.queryRows<Record<string, unknown>>(all(DB_SMALL));
  assert.equal(a.length, n);
  assert.deepEqual(a, b);
  // And what was stored is what toRow made (spot checks of the escaped texts).
  for (const i of [0, 1, 2, 3, 4, 5, n - 1]) {
    assert.equal(a[i]?.event_id, rows[i]?.event_id);
    assert.equal(a[i]?.reason, rows[i]?.reason);
    assert.equal(a[i]?.actor_name, rows[i]?.actor_name);
  }
});

for (const mode of ['gzip', 'none'] as const) {
  test(`a large batch (${mode}) holding a value JSON cannot encode is refused with an error, not hung or half-stored`, { timeout: 60_000 }, async () => {
    const ch = mode === 'gzip' ? streamed : plain;
    const layout = layoutFor(await ch.capabilities());
    const rows: EventRow[] = [];
    for (let i = 0; i < STREAM_MIN_ROWS + 10; i++)
      rows.push(toRow(event(i), { received_at: 1_735_689_601_000, kafka_topic: `audit.bad.${mode}`, kafka_partition: 1, kafka_offset: i }, layout));
    // A BigInt where a string belongs: JSON.stringify throws, late in the body.
    (rows[STREAM_MIN_ROWS + 5] as unknown as Record<string, unknown>).reason = 5n;
    const started = Date.now();
    await assert.rejects(insertRows(ch, rows), (e: unknown) => e instanceof AuditstreamError);
    assert.ok(Date.now() - started < 30_000);
    const [count] = await streamed.queryRows<{ n: string }>(`SELECT count() AS n FROM ${DB_STREAMED}.events WHERE kafka_topic = 'audit.bad.${mode}'`);
    assert.equal(Number(count?.n), 0);
  });
}
