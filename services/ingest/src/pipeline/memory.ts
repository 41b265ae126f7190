import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Logger } from '@auditstream/observability';
import type { IngestMetrics } from '../metrics.js';

/**
 * The memory budget (ingest.memory_budget_bytes). What dominates ingest's resident memory is
 * not the Kafka bytes it holds (one fetch, ≤ fetch_max_bytes) but the V8 heap: the decoded
 * events, their rows and INSERT text, and the garbage V8 lets pile up because its own heap
 * limit is far above any sensible budget (4 GiB here). So the guard watches the process's
 * resident set, and the pipeline asks it before decoding each chunk of a fetched batch: at
 * `PAUSE_AT` of the budget it stops decoding (so kafkajs fetches nothing more), flushes and
 * waits until what is buffered is stored and committed, then collects the garbage, and goes on.
 * Pausing below the budget leaves room for the flush itself, which allocates while paused.
 */
export const PAUSE_AT = 0.75;
/** Highest pause point once a full collection could not get back under PAUSE_AT (see relieve). */
export const PAUSE_AT_MOST = 0.875;
/** One fetch and one INSERT hold at most budget / HELD_SHARE Kafka bytes (fetch_max_bytes and batch_max_bytes are capped). */
export const HELD_SHARE = 64;

export interface MemoryGuard {
  readonly budgetBytes: number;
  /** Resident set size now, in bytes. */
  held(): number;
  /** Whether decoding more now would risk the budget. */
  over(): boolean;
  /**
   * When over: pauses (metrics, log), runs `release` (flush what is buffered and wait until it is
   * stored), collects garbage, resumes. Never waits for more than one release: when nothing more
   * can be freed it goes on anyway (pausing then would stall ingest for good, not save memory).
   */
  relieve(release: () => Promise<void>): Promise<void>;
}

export interface MemoryGuardDeps {
  budgetBytes: number;
  metrics: Pick<IngestMetrics, 'memoryBudget' | 'memoryHeld' | 'fetchPaused' | 'fetchPauses'>;
  logger: Logger;
  /** Default process.memoryUsage.rss (a cheap read of the kernel's counter). */
  rss?: () => number;
  /** Full garbage collection; default V8's, exposed at run time (ingest needs no node flag). */
  collect?: () => void;
}

function exposeGc(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (typeof existing === 'function') return existing;
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as unknown;
  return typeof gc === 'function' ? (gc as () => void) : () => {};
}

export function createMemoryGuard(deps: MemoryGuardDeps): MemoryGuard {
  const rss = deps.rss ?? (() => process.memoryUsage.rss());
  let collect = deps.collect;
  const threshold = deps.budgetBytes * PAUSE_AT;
  const ceiling = deps.budgetBytes * PAUSE_AT_MOST;
  const step = ceiling - threshold;
  const { metrics } = deps;
  let pausedHandlers = 0;
  let warned = false;
  // Where the next pause starts. A full collection that leaves the resident set above the
  // threshold (memory V8 keeps mapped, the geo database, the reuse window) raises it to what the
  // collection left plus a step, at most PAUSE_AT_MOST of the budget: without that, every chunk of
  // every batch paused, flushed a tiny batch and ran a blocking full collection again (half of
  // ingest's CPU at the default budget, for nothing freed). It falls back once memory is returned.
  let pauseAt = threshold;
  metrics.memoryBudget.set(deps.budgetBytes);
  const over = () => {
    const now = rss();
    metrics.memoryHeld.set(now);
    if (now < threshold) pauseAt = threshold;
    return now >= pauseAt;
  };

  return {
    budgetBytes: deps.budgetBytes,
    held: rss,
    over,
    async relieve(release) {
      if (!over()) return;
      if (pausedHandlers++ === 0) {
        metrics.fetchPaused.set(1);
        metrics.fetchPauses.inc();
        deps.logger.debug({ rss_bytes: rss(), budget_bytes: deps.budgetBytes }, 'memory budget reached: fetching paused until buffered events are stored');
      }
      try {
        await release();
        if (over()) {
          collect ??= exposeGc();
          collect();
          const left = rss();
          if (left >= threshold) pauseAt = Math.min(ceiling, left + step);
          if (!warned && over()) {
            warned = true;
            deps.logger.warn(
              { rss_bytes: rss(), budget_bytes: deps.budgetBytes },
              'resident memory stays above 3/4 of ingest.memory_budget_bytes with nothing buffered: the budget is too small, ingest goes on slowly',
            );
          }
        }
      } finally {
        if (--pausedHandlers === 0) metrics.fetchPaused.set(0);
        over();
      }
    },
  };
}
