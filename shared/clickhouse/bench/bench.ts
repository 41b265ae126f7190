/**
 * Storage benchmark against the configured ClickHouse (the real server):
 *   node --import tsx shared/clickhouse/bench/bench.ts [rows=5000000] [--keep]
 * Inserts synthetic events into a fresh database, then reports bytes on disk per row, insert
 * rows/s, and p50/p99 latencies of the query helpers: a one-day range by tenant, by actor,
 * by resource, and hourly counts by action. Prints one JSON object; drops the database unless --keep.
 */
import { configSchema, loadConfig } from '@auditstream/config';
import { uniqueName, uuidv7 } from '@auditstream/core';
import { createLogger } from '@auditstream/observability';
import {
  type AuditEventInput,
  type Category,
  countEvents,
  createClickHouse,
  findEvents,
  hourlyCountsByAction,
  insertRows,
  layoutFor,
  migrate,
  toRow,
} from '../src/index.js';

const total = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 5_000_000);
const keep = process.argv.includes('--keep');
const BATCH = 100_000;
const TENANTS = 50;
const ACTORS = 2_000;
const RESOURCES = 5_000;
const DAYS = 30;
const ACTIONS = Array.from({ length: 40 }, (_, i) => `svc${i % 8}.action${i}`);
const CATS: Category[] = ['authentication', 'authorization', 'resource_access', 'configuration', 'data_export', 'admin', 'system'];
const start = Date.UTC(2024, 4, 1);

let seed = 42;
const rnd = () => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x7fffffff;
};
// Skewed tenants: a few big ones, like real SaaS.
const tenantOf = () => `tenant-${Math.floor(TENANTS * rnd() ** 2)}`;

function event(i: number): AuditEventInput {
  const t = start + Math.floor(rnd() * DAYS * 86_400_000);
  const tenant = tenantOf();
  return {
    event_id: uuidv7(t),
    tenant_id: tenant,
    occurred_at: t * 1000 + (i % 1000),
    actor: {
      id: `${tenant}-user-${Math.floor(rnd() * ACTORS)}`,
      type: 'user',
      name: null,
      session_id: `s-${Math.floor(rnd() * 1e9).toString(36)}`,
      ip: `10.${Math.floor(rnd() * 4)}.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}`,
      user_agent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
    },
    action: ACTIONS[Math.floor(rnd() * ACTIONS.length)] as string,
    category: CATS[Math.floor(rnd() * CATS.length)] as Category,
    outcome: rnd() < 0.9 ? 'success' : 'failure',
    service: `svc${Math.floor(rnd() * 8)}`,
    host: `host-${Math.floor(rnd() * 20)}`,
    region: 'eu-west-1',
    resource: rnd() < 0.7 ? { type: 'document', id: `${tenant}-doc-${Math.floor(rnd() * RESOURCES)}`, name: null } : null,
    request_id: `req-${i}`,
    trace_id: null,
    attributes: { http_method: rnd() < 0.5 ? 'GET' : 'POST', mfa: rnd() < 0.3 ? 'true' : 'false' },
  };
}

const pct = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return Number((s[Math.min(s.length - 1, Math.floor(q * s.length))] as number).toFixed(1));
};

const cfg = loadConfig(configSchema, {}).clickhouse;
const db = uniqueName('bench');
const ch = createClickHouse(
  { ...cfg, database: db, request_timeout_ms: 300_000, max_execution_time_s: 300 },
  { logger: createLogger({ service: 'bench', level: 'warn' }) },
);
try {
  await migrate(ch);
  const caps = await ch.capabilities();
  const layout = layoutFor(caps);
  const samples: AuditEventInput[] = [];
  let prevHash = '0'.repeat(64);
  const t0 = performance.now();
  let buildMs = 0;
  let pending: Promise<void> | undefined;
  for (let done = 0; done < total; done += BATCH) {
    const b0 = performance.now();
    const rows = [];
    for (let i = done; i < Math.min(total, done + BATCH); i++) {
      const e = event(i);
      if (i % 50_000 === 0) samples.push(e);
      const hash = (BigInt(i) * 0x9e3779b97f4a7c15n).toString(16).padStart(64, '0').slice(-64);
      rows.push(
        toRow(
          e,
          {
            received_at: Date.now(),
            kafka_topic: 'audit.events',
            kafka_partition: i % 6,
            kafka_offset: Math.floor(i / 6),
            chain_seq: Math.floor(i / 6),
            prev_hash: prevHash,
            hash,
          },
          layout,
        ),
      );
      prevHash = hash;
    }
    buildMs += performance.now() - b0;
    await pending; // one batch in flight while the next is built
    pending = insertRows(ch, rows);
  }
  await pending;
  const insertSec = (performance.now() - t0) / 1000;

  const parts = await ch.queryRows<{ table: string; rows: string; bytes: string; compressed: string; uncompressed: string }>(
    `SELECT table, sum(rows) AS rows, sum(bytes_on_disk) AS bytes, sum(data_compressed_bytes) AS compressed, sum(data_uncompressed_bytes) AS uncompressed
     FROM system.parts WHERE database = '${db}' AND active GROUP BY table ORDER BY table`,
  );
  const disk = Object.fromEntries(
    parts.map((p) => [
      p.table,
      {
        rows: Number(p.rows),
        bytes_per_row: Number((Number(p.bytes) / Number(p.rows)).toFixed(1)),
        ratio: Number((Number(p.uncompressed) / Number(p.compressed)).toFixed(1)),
      },
    ]),
  );
  const totalBytes = parts.reduce((s, p) => s + Number(p.bytes), 0);

  const ITER = 40;
  const timings: Record<string, number[]> = { by_tenant_day: [], by_actor_day: [], by_resource_day: [], hourly_by_action_day: [], count_tenant_day: [] };
  for (let k = 0; k < ITER; k++) {
    const s = samples[k % samples.length] as AuditEventInput;
    const dayStart = Math.floor(Number(s.occurred_at) / 86_400_000_000) * 86_400_000;
    const range = { tenant_id: s.tenant_id, from: new Date(dayStart), to: new Date(dayStart + 86_400_000) };
    const time = async (name: string, fn: () => Promise<unknown>) => {
      const a = performance.now();
      await fn();
      timings[name]?.push(performance.now() - a);
    };
    await time('by_tenant_day', () => findEvents(ch, range, { limit: 100 }));
    await time('by_actor_day', () => findEvents(ch, { ...range, actor_id: s.actor.id }, { limit: 100 }));
    if (s.resource) await time('by_resource_day', () => findEvents(ch, { ...range, resource_id: s.resource?.id as string }, { limit: 100 }));
    await time('hourly_by_action_day', () => hourlyCountsByAction(ch, range));
    await time('count_tenant_day', () => countEvents(ch, range));
  }
  const latency = Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, { n: v.length, p50_ms: pct(v, 0.5), p99_ms: pct(v, 0.99) }]));
  console.log(
    JSON.stringify(
      {
        server: caps.version,
        layout,
        rows: total,
        insert: {
          seconds: Number(insertSec.toFixed(1)),
          rows_per_s: Math.round(total / insertSec),
          js_row_build_s: Number((buildMs / 1000).toFixed(1)),
          batch: BATCH,
        },
        disk: { total_bytes_per_event: Number((totalBytes / total).toFixed(1)), by_table: disk },
        latency,
      },
      null,
      2,
    ),
  );
} finally {
  if (!keep) await ch.command(`DROP DATABASE IF EXISTS ${db}`);
  await ch.close();
}
