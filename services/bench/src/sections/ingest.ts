// Ingest throughput: N SDK events are published first (so the producer is not the bottleneck),
// then the real `auditstream ingest` child drains them; timed until the project's count query
// finds all N (polled through stored.ts, which keeps the polling off the server's CPU).
import { AuditstreamError, sleep } from '@auditstream/core';
import { INGEST_STAGES } from '@auditstream/ingest';
import { metricTotal, scrapePrometheus } from '@auditstream/observability';
import { countStored, publishEvents } from '@auditstream/workload';
import type { RunEnv } from '../env.js';
import { type ServiceChild, spawnService } from '../procs.js';
import type { RunFigures } from '../report.js';
import { perSecond } from '../stats.js';
import { metricsUrlFromLog } from './latency.js';
import { waitStored } from './stored.js';

export interface IngestResult {
  /** N / (all N queryable − ingest child spawned): includes process start and group join. */
  ingest_events_per_s: number;
  /** (N − rows at the first non-zero poll) / (all N queryable − that poll): the steady drain rate. */
  ingest_steady_events_per_s: number;
  /** N / (all N queryable − first publish of the pre-production): the end-to-end figure for a backlog. */
  ingest_from_first_publish_events_per_s: number;
  /** SDK publish rate of the pre-production (events/s). */
  preproduce_events_per_s: number;
  ingest_seconds: number;
}

export interface IngestSectionOutput {
  result: IngestResult;
  /** `ingest_stage_<stage>_us_per_event`: ingest's wall time per stored event in each stage over the drain (its stage metric). */
  stages: RunFigures;
  /** The ingest child, still running (the latency and alerting sections use it). */
  child: ServiceChild;
}

export async function runIngestSection(
  env: RunEnv,
  opts: { events: number; pollMs: number; timeoutMs: number; nodeArgs?: readonly string[]; log: (s: string) => void },
): Promise<IngestSectionOutput> {
  const n = opts.events;
  opts.log(`  pre-producing ${n} events through the SDK`);
  const tPublish = Date.now();
  await publishEvents(env.kafka, env.topics.events, env.tenant, n);
  const tPublished = Date.now();
  opts.log(`  starting auditstream ingest`);
  const tSpawn = Date.now();
  const child = spawnService('ingest', env.serviceEnv, opts.nodeArgs);
  try {
    const t = await waitStored({
      ch: env.ch,
      database: env.database,
      n,
      exact: () => countStored(env.ch, env.tenant),
      pollMs: opts.pollMs,
      deadline: tSpawn + opts.timeoutMs,
      check: () => {
        if (child.proc.exitCode !== null) throw new AuditstreamError('BENCH_CHILD', `auditstream ingest exited early: ${child.output().slice(-1500)}`, {});
      },
      what: 'ingest',
    });
    return {
      child,
      stages: await stageFigures(metricsUrlFromLog(child.output()), n),
      result: {
        ingest_events_per_s: perSecond(n, t.at - tSpawn),
        ingest_steady_events_per_s: t.firstRows < n ? perSecond(n - t.firstRows, t.at - t.firstAt) : Number.NaN,
        ingest_from_first_publish_events_per_s: perSecond(n, t.at - tPublish),
        preproduce_events_per_s: perSecond(n, tPublished - tPublish),
        ingest_seconds: (t.at - tSpawn) / 1000,
      },
    };
  } catch (err) {
    await child.stop(5000);
    throw err;
  }
}

/**
 * Ingest's auditstream_ingest_stage_seconds_total per stored event, by stage (µs): where the drain's
 * time went, from the same run. Rows are queryable a moment before ingest's INSERT call returns, so
 * this waits (up to 10 s) for the inserted counter to reach N: every flush's stages up to the INSERT's
 * bookkeeping are then counted (only the last flush's dlq and commit may still be running). NaN for
 * every stage when the page cannot be read.
 */
export async function stageFigures(metricsUrl: string | undefined, events: number): Promise<RunFigures> {
  const deadline = Date.now() + 10_000;
  let samples = metricsUrl ? await scrapePrometheus(`${metricsUrl}/metrics`) : undefined;
  while (samples && (metricTotal(samples, 'auditstream_ingest_inserted_events_total') ?? 0) < events && Date.now() < deadline) {
    await sleep(100);
    samples = await scrapePrometheus(`${metricsUrl}/metrics`);
  }
  const out: RunFigures = {};
  for (const stage of INGEST_STAGES) {
    const s = samples?.find((x) => x.name === 'auditstream_ingest_stage_seconds_total' && x.labels.stage === stage);
    out[`ingest_stage_${stage}_us_per_event`] = samples ? ((s?.value ?? 0) * 1e6) / events : Number.NaN;
  }
  return out;
}
