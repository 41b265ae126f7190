// `auditstream bench --only query`: the five query figures over N stored events loaded straight
// into ClickHouse (sections/query-load.ts), with the schema's write cost and disk use beside them,
// and the console's time to first results in chromium over those events (sections/console.ts).
// Each run loads the same rows twice: into a database migrated without the query structures of
// migrations 011, 012 and 014 (insert time and disk only, dropped at once) and into a fully migrated one that
// the API child then queries.
import { MIGRATIONS, migrate } from '@auditstream/clickhouse';
import type { RunEnv } from './env.js';
import type { ServiceChild } from './procs.js';
import type { RunFigures } from './report.js';
import { runConsoleFirstResults } from './sections/console.js';
import { runQueries } from './sections/query.js';
import { diskBytes, type LoadSpec, loadStoredEvents } from './sections/query-load.js';
import { perSecond } from './stats.js';

/** Migrations that add query structures only (the baseline leaves them out). */
export const QUERY_MIGRATIONS: ReadonlySet<string> = new Set(['011_query_rollups', '012_exact_counts', '014_events_by_resource_rows']);

/** Loads of the console's search page measured (after one warm-up): a few, the browser is the slow part. */
const CONSOLE_LOADS = 5;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export async function runQueryOnly(
  env: RunEnv,
  o: { events: number; reps: number; track: (c: ServiceChild) => void; log: (s: string) => void },
): Promise<RunFigures> {
  const figures: RunFigures = {};
  // One day of events, ending at the last full hour.
  const startMs = Math.floor(Date.now() / HOUR) * HOUR - DAY;
  const spec = (database: string): LoadSpec => ({ database, tenant: env.tenant, events: o.events, startMs, windowMs: DAY, redeliverEvery: 1000 });

  // Baseline: the schema without the query structures, same rows.
  await env.ch.command(`DROP DATABASE IF EXISTS ${env.limitDatabase}`);
  await migrate(env.ch, { database: env.limitDatabase, migrations: MIGRATIONS.filter((m) => !QUERY_MIGRATIONS.has(m.id)) });
  o.log(`  loading ${o.events} events into ${env.limitDatabase} (schema without 011/012/014)`);
  const base = await loadStoredEvents(env.ch, spec(env.limitDatabase));
  figures.load_baseline_insert_seconds = base.insert_seconds;
  figures.load_baseline_rows_per_s = perSecond(base.rows, base.insert_seconds * 1000);
  const baseDisk = await diskBytes(env.ch, env.limitDatabase);
  figures.disk_baseline_total_bytes = Object.values(baseDisk).reduce((a, b) => a + b, 0);
  await env.ch.command(`DROP DATABASE IF EXISTS ${env.limitDatabase}`); // disk: one copy at a time

  o.log(`  loading ${o.events} events into ${env.database} (full schema)`);
  const full = await loadStoredEvents(env.ch, spec(env.database));
  figures.load_rows = full.rows;
  figures.load_insert_seconds = full.insert_seconds;
  figures.load_rows_per_s = perSecond(full.rows, full.insert_seconds * 1000);
  figures.load_insert_cost_ratio = full.insert_seconds / base.insert_seconds;
  const disk = await diskBytes(env.ch, env.database);
  for (const [table, bytes] of Object.entries(disk)) figures[`disk_${table}_bytes`] = bytes;
  figures.disk_total_bytes = Object.values(disk).reduce((a, b) => a + b, 0);

  o.log(`  queries through the API (${o.reps} repetitions each)`);
  const q = await runQueries(env, { reps: o.reps, fromMs: startMs, toMs: startMs + DAY - 1, startTimeoutMs: 120_000, track: o.track });
  Object.assign(figures, q.result);
  try {
    o.log(`  the console in chromium: time to first results of a one-day search (${CONSOLE_LOADS} loads)`);
    Object.assign(
      figures,
      await runConsoleFirstResults({
        base: q.base,
        adminKey: q.adminKey,
        tenant: env.tenant,
        fromMs: startMs,
        toMs: startMs + DAY,
        loads: CONSOLE_LOADS,
        timeoutMs: 120_000,
      }),
    );
  } finally {
    await q.child.stop();
  }
  return figures;
}
