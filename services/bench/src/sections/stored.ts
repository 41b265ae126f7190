// Waiting until N events are queryable without loading the server that stores them. An exact
// count (uniqExact over a table that grows by the second) polled every 100 ms cost ClickHouse
// 16 s of CPU during a 500k drain on 2 cores, more the slower the drain, so it slowed the side
// it timed. The parts' row count is metadata; the exact count runs only once the rows are there.

import { type ClickHouse, sql } from '@auditstream/clickhouse';
import { AuditstreamError, sleep } from '@auditstream/core';

/** Rows in the active parts of `<database>.events` (re-delivered copies included until merged). */
export async function partRows(ch: ClickHouse, database: string): Promise<number> {
  const [r] = await ch.queryRows<{ n: string }>(
    sql`SELECT toString(sum(rows)) AS n FROM system.parts WHERE database = ${database} AND table = 'events' AND active`,
    { operation: 'bench_part_rows' },
  );
  return Number(r?.n ?? 0);
}

/** The exact count runs at least this often, whatever the parts say. */
export const EXACT_EVERY_MS = 2000;

export interface StoredWait {
  ch: ClickHouse;
  database: string;
  /** Events expected (beyond `baselineRows`). */
  n: number;
  /** Rows the table held before (another backlog's). */
  baselineRows?: number;
  /** The exact count of the events expected (the project's count query, or uniqExact). */
  exact: () => Promise<number>;
  pollMs: number;
  deadline: number;
  /** Throws to stop waiting (a child that exited). */
  check?: () => void;
  what: string;
}

export interface StoredTimes {
  /** First poll that saw rows beyond the baseline, and how many. */
  firstAt: number;
  firstRows: number;
  /** The exact count that reached n. */
  count: number;
  at: number;
}

export async function waitStored(w: StoredWait): Promise<StoredTimes> {
  const base = w.baselineRows ?? 0;
  let firstAt = 0;
  let firstRows = 0;
  let count = 0;
  let exactAt = Date.now();
  for (;;) {
    const rows = (await partRows(w.ch, w.database)) - base;
    const now = Date.now();
    if (rows > 0 && firstAt === 0) {
      firstAt = now;
      firstRows = Math.min(rows, w.n);
    }
    // Also now and then regardless: merges may have collapsed copies that the baseline counted.
    if (rows >= w.n || now - exactAt >= EXACT_EVERY_MS) {
      exactAt = now;
      count = await w.exact();
      if (count >= w.n) return { firstAt, firstRows, count, at: Date.now() };
    }
    w.check?.();
    if (now > w.deadline)
      throw new AuditstreamError('BENCH_TIMEOUT', `${w.what}: ${Math.max(count, Math.min(rows, w.n))} of ${w.n} stored within the bound`, {});
    await sleep(w.pollMs);
  }
}
