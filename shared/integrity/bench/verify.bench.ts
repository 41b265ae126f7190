// Verify throughput: `node --import tsx shared/integrity/bench/verify.bench.ts [rows] [partitions] [--keep] [--events-only]`.
// Builds a chain of `rows` synthetic events (default 1,000,000) over `partitions` Kafka partitions
// (default 4) in a fresh database of the configured ClickHouse, the way ingest writes them (toRow,
// chainer, one INSERT per 50,000 rows, a signed checkpoint every 10,000 events), then runs
// verifyStore over it (not with --events-only) and prints rows/s of both; then single-event verification
// (verifyEvent, GET /v1/events/{id}/verify's check) of 30 events spread over the chain: the first call per
// partition apart (it stores the subtree roots its proof needs), p50/p90/p99 of the others. Drops the
// database unless --keep.
import { type AuditEventInput, createClickHouse, type EventRow, insertRows, layoutFor, migrate, toRow } from '@auditstream/clickhouse';
import { configSchema, loadConfig } from '@auditstream/config';
import { uniqueName, uuidv7 } from '@auditstream/core';
import {
  createChainedInsert,
  createChainer,
  createCheckpointer,
  generateSigningKey,
  loadPublicKeys,
  loadSigningKey,
  verifyEvent,
  verifyStore,
} from '@auditstream/integrity';
import { createLogger } from '@auditstream/observability';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const keep = process.argv.includes('--keep');
const eventsOnly = process.argv.includes('--events-only');
const N = Number(args[0] ?? 1_000_000);
const P = Number(args[1] ?? 4);
const BATCH = 50_000;

const cfg = loadConfig(configSchema, {});
const logger = createLogger({ service: 'verify-bench', level: 'warn' });
const db = uniqueName('integrity_bench');
const ch = createClickHouse({ ...cfg.clickhouse, database: db, request_timeout_ms: 300_000 }, { logger });
await migrate(ch);
const layout = layoutFor(await ch.capabilities());
const pair = generateSigningKey();
const chainer = createChainer({ ch });
const checkpointer = createCheckpointer({ ch, signingKey: loadSigningKey(pair.privatePem, 'bench'), everyEvents: 10_000, intervalMs: 3_600_000 });
const insert = createChainedInsert({ chainer, checkpointer, insert: (rows) => insertRows(ch, rows) });

const actions = ['auth.login', 'document.read', 'document.update', 'user.role.grant', 'export.csv'];
const categories = ['authentication', 'resource_access', 'resource_access', 'authorization', 'data_export'] as const;
const t0 = Date.now() - 30 * 86_400_000;
function event(i: number): AuditEventInput {
  const a = i % actions.length;
  return {
    event_id: uuidv7(t0 + i * 2),
    tenant_id: `tenant-${i % 50}`,
    occurred_at: (t0 + i * 2) * 1000 + (i % 997),
    actor: {
      id: `user-${i % 2000}`,
      type: 'user',
      ip: `10.${i % 200}.${i % 7}.${i % 250}`,
      session_id: `s-${i % 5000}`,
      user_agent: 'Mozilla/5.0 (X11; Linux x86_64)',
    },
    action: actions[a] as string,
    category: categories[a] as AuditEventInput['category'],
    outcome: i % 11 ? 'success' : 'failure',
    service: 'bench',
    resource: { type: 'document', id: `doc-${i % 5000}` },
    attributes: { request: `r-${i}`, region: 'eu-west-1' },
  };
}

const offsets = new Array<number>(P).fill(0);
// The events single-event verification checks: 30 spread over the chain, the last not under a checkpoint.
const SAMPLE_EVERY = Math.max(1, Math.floor(N / 30));
const sampled: { partition: number; offset: bigint; event_id: string }[] = [];
let built = 0;
const buildStart = Date.now();
for (let p = 0; p < P; p++) {
  await chainer.loadHead('audit.events', p);
  await checkpointer.assign('audit.events', p);
}
while (built < N) {
  const rows: EventRow[] = [];
  for (let k = 0; k < BATCH && built < N; k++, built++) {
    const p = built % P;
    const o = offsets[p] as number;
    offsets[p] = o + 1;
    const received = t0 + built * 2 + 150;
    const e = event(built);
    if (built % SAMPLE_EVERY === Math.floor(SAMPLE_EVERY / 2)) sampled.push({ partition: p, offset: BigInt(o), event_id: e.event_id as string });
    rows.push(toRow(e, { received_at: received, ingested_at: received, kafka_topic: 'audit.events', kafka_partition: p, kafka_offset: o }, layout));
  }
  await insert(rows);
  process.stderr.write(`\rbuilt ${built.toLocaleString('en-US')} rows`);
}
await checkpointer.stop();
const buildS = (Date.now() - buildStart) / 1000;
process.stderr.write(`\n`);
console.log(
  `build: ${N.toLocaleString('en-US')} rows in ${buildS.toFixed(1)} s (${Math.round(N / buildS).toLocaleString('en-US')} rows/s: toRow + chain + INSERT)`,
);

const publicKeys = loadPublicKeys([pair.publicPem]);
let ok = true;
if (!eventsOnly) {
  const report = await verifyStore({
    ch,
    publicKeys,
    onProgress: (p) =>
      process.stderr.write(
        `\rverify ${p.topic}[${p.partition}] ${p.total_rows.toLocaleString('en-US')} rows, ${p.events_per_second.toLocaleString('en-US')} events/s   `,
      ),
  });
  process.stderr.write('\n');
  console.log(
    `verify: ${report.rows.toLocaleString('en-US')} rows, ${report.partitions.length} partitions, ${report.partitions.reduce((a, p) => a + p.checkpoints_matched, 0)} checkpoints matched, ${report.errors} errors, in ${(report.duration_ms / 1000).toFixed(1)} s: ${report.events_per_second.toLocaleString('en-US')} events/s`,
  );
  ok = report.ok;
}
const firstMs: number[] = [];
const eventMs: number[] = [];
const statuses = new Map<string, number>();
const warmed = new Set<number>();
for (const s of sampled) {
  const t = performance.now();
  const v = await verifyEvent({ ch, publicKeys, topic: 'audit.events', ...s });
  const took = performance.now() - t;
  // Proven by an inclusion proof in the tree head (span = the event alone), or by the chain walk.
  const how = `${v.status}${v.status === 'verified' ? (v.span.to_offset === v.span.from_offset ? ' by proof' : ' by walk') : ''}`;
  statuses.set(how, (statuses.get(how) ?? 0) + 1);
  if (warmed.has(s.partition)) eventMs.push(took);
  else {
    warmed.add(s.partition);
    firstMs.push(took);
  }
}
const pct = (q: number) => {
  const xs = [...eventMs].sort((a, b) => a - b);
  return xs[Math.min(xs.length - 1, Math.ceil((q / 100) * xs.length) - 1)] ?? Number.NaN;
};
console.log(
  `verifyEvent: ${sampled.length} events (${[...statuses].map(([k, n]) => `${n} ${k}`).join(', ')}); first per partition ${firstMs.map((m) => m.toFixed(0)).join(', ')} ms; others p50 ${pct(50).toFixed(0)} / p90 ${pct(90).toFixed(0)} / p99 ${pct(99).toFixed(0)} ms`,
);
console.log(`rss ${Math.round(process.memoryUsage().rss / 1048576)} MiB, heap used ${Math.round(process.memoryUsage().heapUsed / 1048576)} MiB`);
if (!keep) await ch.command(`DROP DATABASE IF EXISTS ${db}`);
else console.log(`kept database ${db}`);
await ch.close();
if (!ok) process.exitCode = 1;
