import type { IngestMetrics } from '../metrics.js';

/** The bounded `stage` values of auditstream_ingest_stage_seconds_total, in pipeline order. */
export const INGEST_STAGES = ['process', 'row_mapping', 'chain', 'insert', 'after_insert', 'dlq', 'commit'] as const;
export type TimedStage = (typeof INGEST_STAGES)[number];

type StageMetrics = Pick<IngestMetrics, 'stageSeconds'>;

/** Runs `work` and adds its wall time to `stage`, whether it succeeds or fails. */
export async function timeStage<T>(metrics: StageMetrics, stage: TimedStage, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    return await work();
  } finally {
    metrics.stageSeconds.inc({ stage }, (performance.now() - started) / 1000);
  }
}

/**
 * The INSERT as the sink calls it: `insert` timed as stage insert, and what `wrap` does around it
 * (the hash chain, its checkpoints, the id-reuse record) timed as stage chain, so the two add up to
 * the call. Flushes run one at a time, so the INSERT time within one call is the growth of a total.
 */
export function timedInsert<Row>(
  metrics: StageMetrics,
  insert: (rows: Row[]) => Promise<void>,
  wrap: (inner: (rows: Row[]) => Promise<void>) => (rows: Row[]) => Promise<void>,
): (rows: Row[]) => Promise<void> {
  let insertSeconds = 0;
  const inner = async (rows: Row[]) => {
    const started = performance.now();
    try {
      await insert(rows);
    } finally {
      const s = (performance.now() - started) / 1000;
      insertSeconds += s;
      metrics.stageSeconds.inc({ stage: 'insert' }, s);
    }
  };
  const wrapped = wrap(inner);
  return async (rows) => {
    const started = performance.now();
    const before = insertSeconds;
    try {
      await wrapped(rows);
    } finally {
      const around = (performance.now() - started) / 1000 - (insertSeconds - before);
      metrics.stageSeconds.inc({ stage: 'chain' }, Math.max(0, around));
    }
  };
}
