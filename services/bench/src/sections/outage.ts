// Ingest's memory through a ClickHouse outage (issue 16's budget figure): a second backlog on the
// run's events topic, drained by a fresh ingest child (same group: it starts after what the first
// drain committed); once a third of it is stored, the ClickHouse server is paused (SIGSTOP: every
// request hangs, as with a stalled server) for `seconds`, then resumed (SIGCONT). Figures: the
// child's peak RSS against its memory budget, and how many of the events are stored once at the end.
import { AuditstreamError, sleep } from '@auditstream/core';
import { countStored, publishEvents } from '@auditstream/workload';
import type { RunEnv } from '../env.js';
import { type ServiceChild, spawnService } from '../procs.js';
import { perSecond } from '../stats.js';
import { partRows, waitStored } from './stored.js';

export interface OutageResult {
  outage_events: number;
  outage_pause_s: number;
  /** The ingest child's VmHWM over its whole life (backlog, pause, catch-up). */
  outage_ingest_peak_rss_bytes: number;
  outage_memory_budget_bytes: number;
  /** Distinct event ids of the backlog stored at the end (the project's count query). */
  outage_stored_events: number;
  /** Spawn → all stored, pause included. */
  outage_drain_events_per_s: number;
}

export interface OutageOptions {
  events: number;
  seconds: number;
  /** The local stack's ClickHouse server. */
  clickhousePid: number;
  memoryBudgetBytes: number;
  timeoutMs: number;
  pollMs: number;
  log: (line: string) => void;
  track: (c: ServiceChild) => void;
}

/** Sends SIGCONT to the paused server however the process ends (a bench killed mid-pause must not leave the dev stack stopped). */
function pauseGuard(pid: number): { pause(): void; resume(): void } {
  let paused = false;
  const resume = () => {
    if (!paused) return;
    paused = false;
    process.off('exit', resume);
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // Gone already: nothing to resume.
    }
  };
  return {
    pause() {
      process.on('exit', resume);
      paused = true;
      process.kill(pid, 'SIGSTOP');
    },
    resume,
  };
}

export async function runOutage(env: RunEnv, opts: OutageOptions): Promise<OutageResult> {
  const tenant = `${env.tenant}_outage`;
  opts.log(`  pre-producing ${opts.events} events for the outage backlog`);
  await publishEvents(env.kafka, env.topics.events, tenant, opts.events);
  const guard = pauseGuard(opts.clickhousePid);
  const baselineRows = await partRows(env.ch, env.database);
  const t0 = Date.now();
  const child = spawnService('ingest', env.serviceEnv);
  opts.track(child);
  try {
    const waitFor = (n: number) =>
      waitStored({
        ch: env.ch,
        database: env.database,
        n,
        baselineRows,
        exact: () => countStored(env.ch, tenant),
        pollMs: opts.pollMs,
        deadline: t0 + opts.timeoutMs + opts.seconds * 1000,
        check: () => {
          if (child.proc.exitCode !== null)
            throw new AuditstreamError('BENCH_CHILD', `auditstream ingest exited during the outage section: ${child.output().slice(-1500)}`, {});
        },
        what: 'ingest of the outage backlog',
      });
    await waitFor(Math.ceil(opts.events / 3));
    opts.log(`  pausing ClickHouse (pid ${opts.clickhousePid}) for ${opts.seconds} s`);
    guard.pause();
    try {
      await sleep(opts.seconds * 1000);
    } finally {
      guard.resume();
    }
    if (child.proc.exitCode !== null)
      throw new AuditstreamError('BENCH_CHILD', `auditstream ingest exited during the ClickHouse pause: ${child.output().slice(-1500)}`, {});
    const stored = (await waitFor(opts.events)).count;
    const ms = Date.now() - t0;
    await child.stop();
    return {
      outage_events: opts.events,
      outage_pause_s: opts.seconds,
      outage_ingest_peak_rss_bytes: child.usage().peak_rss_bytes,
      outage_memory_budget_bytes: opts.memoryBudgetBytes,
      outage_stored_events: stored,
      outage_drain_events_per_s: perSecond(opts.events, ms),
    };
  } finally {
    guard.resume();
    await child.stop(5000);
  }
}
