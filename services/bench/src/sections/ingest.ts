// Ingest throughput: N SDK events are published first (so the producer is not the bottleneck),
// then the real `auditstream ingest` child drains them; timed until uniqExact(event_id) = N.
import { AuditstreamError, sleep } from '@auditstream/core';
import { countStored, publishEvents } from '@auditstream/workload';
import type { RunEnv } from '../env.js';
import { type ServiceChild, spawnService } from '../procs.js';
import { perSecond } from '../stats.js';

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
    let tFirst = 0;
    let nFirst = 0;
    const deadline = tSpawn + opts.timeoutMs;
    for (;;) {
      const count = await countStored(env.ch, env.tenant);
      const now = Date.now();
      if (count > 0 && tFirst === 0) {
        tFirst = now;
        nFirst = count;
      }
      if (count >= n) break;
      if (child.proc.exitCode !== null) throw new AuditstreamError('BENCH_CHILD', `auditstream ingest exited early: ${child.output().slice(-1500)}`, {});
      if (now > deadline) throw new AuditstreamError('BENCH_TIMEOUT', `ingest stored ${count} of ${n} events within ${opts.timeoutMs} ms`, {});
      await sleep(opts.pollMs);
    }
    const tAll = Date.now();
    return {
      child,
      result: {
        ingest_events_per_s: perSecond(n, tAll - tSpawn),
        ingest_steady_events_per_s: nFirst < n ? perSecond(n - nFirst, tAll - tFirst) : Number.NaN,
        ingest_from_first_publish_events_per_s: perSecond(n, tAll - tPublish),
        preproduce_events_per_s: perSecond(n, tPublished - tPublish),
        ingest_seconds: (tAll - tSpawn) / 1000,
      },
    };
  } catch (err) {
    await child.stop(5000);
    throw err;
  }
}
