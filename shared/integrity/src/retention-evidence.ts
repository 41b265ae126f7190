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

/** Retention explains the removed entries (the run, the checkpoint that bounds their times, the bound), or why not. */
export type RetentionVerdict = { run: RetentionRun; checkpoint: Checkpoint; newest_us: bigint } | { why: string };

/**
 * Whether retention explains that the chain entries up to chain_seq `upTo` are gone (every one of a
 * chain, or its oldest). The rows are gone, so their times come from what is signed: each was
 * stored before any checkpoint at or after `upTo` was signed (`created_at_s`, whole seconds; the
 * earliest such is the tightest bound), and ingest only stores an event whose occurred_at is at
 * most max_future_skew_ms after its Kafka timestamp, which precedes the storing. So every one
 * occurred before created_at_s + 1 s + the skew; a run whose cut-off is at or after that removed
 * them all, whoever deleted them first. The earliest such run is named.
 *
 * `checkpoints` must be valid (signature and links checked): an attacker who removes checkpoints
 * can only make the bound later, never earlier.
 */
export function explainRemovedEntries(
  checkpoints: readonly Checkpoint[],
  upTo: bigint,
  runs: readonly RetentionRun[],
  maxFutureSkewMs: number = EVENT_TIME_WINDOW.max_future_skew_ms,
): RetentionVerdict {
  const cover = checkpoints
    .filter((c) => BigInt(c.chain_seq) >= upTo)
    .reduce<Checkpoint | undefined>((a, c) => (a && a.created_at_s <= c.created_at_s ? a : c), undefined);
  if (!cover) return { why: `no valid signed checkpoint covers chain_seq ${upTo}, so nothing bounds when the removed entries occurred` };
  const newest = (BigInt(cover.created_at_s + 1) * 1000n + BigInt(maxFutureSkewMs)) * 1000n;
  const run = runs.filter((r) => r.cutoff_us >= newest).sort((a, b) => (a.run_at_us < b.run_at_us ? -1 : a.run_at_us > b.run_at_us ? 1 : 0))[0];
  if (run) return { run, checkpoint: cover, newest_us: newest };
  if (runs.length === 0) return { why: 'no retention run with an events cut-off is recorded under a signed checkpoint' };
  const latest = runs.reduce((a, b) => (b.cutoff_us > a.cutoff_us ? b : a));
  return {
    why: `the latest retention cut-off (run ${latest.event_id}: ${microsToIso(latest.cutoff_us)}) is before ${microsToIso(newest)}, the signing time of the checkpoint at offset ${cover.last_offset} + ${maxFutureSkewMs} ms: the newest removed entries may have occurred after it`,
  };
}
