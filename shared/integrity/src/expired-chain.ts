import { EVENT_TIME_WINDOW, microsToIso } from '@auditstream/schemas';
import type { Checkpoint } from './checkpoint.js';

/**
 * A retention run as its audit event records it (`retention apply`, shared/clickhouse retention.ts),
 * once verify has found that record stored intact under a signed checkpoint (retention-runs.ts).
 */
export interface RetentionRun {
  event_id: string;
  /** Where the record is stored: its own chain entry. */
  topic: string;
  partition: number;
  offset: string;
  /** occurred_at of the record, µs. */
  run_at_us: bigint;
  /** events_cutoff, µs: no event that occurred before it is kept after the run. */
  cutoff_us: bigint;
}

export type ExpiryVerdict = { run: RetentionRun; newest_us: bigint } | { why: string };

/**
 * Whether retention explains that every entry a signed checkpoint covers is gone. The rows are
 * gone, so their times come from what is signed: each was stored before the checkpoint was
 * signed (`created_at_s`, whole seconds), and ingest only stores an event whose occurred_at is at
 * most max_future_skew_ms after its Kafka timestamp, which precedes the storing. So every one
 * occurred before created_at_s + 1 s + the skew; a run whose cut-off is at or after that removed
 * them all, whoever deleted them first. The earliest such run is named.
 */
export function explainExpiredChain(
  head: Checkpoint,
  runs: readonly RetentionRun[],
  maxFutureSkewMs: number = EVENT_TIME_WINDOW.max_future_skew_ms,
): ExpiryVerdict {
  const newest = (BigInt(head.created_at_s + 1) * 1000n + BigInt(maxFutureSkewMs)) * 1000n;
  const run = runs.filter((r) => r.cutoff_us >= newest).sort((a, b) => (a.run_at_us < b.run_at_us ? -1 : a.run_at_us > b.run_at_us ? 1 : 0))[0];
  if (run) return { run, newest_us: newest };
  if (runs.length === 0) return { why: 'no retention run with an events cut-off is recorded under a signed checkpoint' };
  const latest = runs.reduce((a, b) => (b.cutoff_us > a.cutoff_us ? b : a));
  return {
    why: `the latest retention cut-off (run ${latest.event_id}: ${microsToIso(latest.cutoff_us)}) is before ${microsToIso(newest)}, the checkpoint's signing time + ${maxFutureSkewMs} ms: its newest entries may have occurred after it`,
  };
}
