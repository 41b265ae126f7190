// Ingest throughput: N SDK events are published first (so the producer is not the bottleneck),
// then the real `auditstream ingest` child drains them; timed until the project's count query
// finds all N (polled through stored.ts, which keeps the polling off the server's CPU).
import { AuditstreamError } from '@auditstream/core';
import { countStored, publishEvents } from '@auditstream/workload';
import type { RunEnv } from '../env.js';
import { type ServiceChild, spawnService } from '../procs.js';
import { perSecond } from '../stats.js';
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
