import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { withTimeout } from '@auditstream/core';
import { metricTotal, scrapePrometheus } from '@auditstream/observability';
import { signalGroup } from './process.js';

/**
 * Runs the pipeline's processes for the main job (`auditstream up`): each a child process
 * of the CLI with its output in its own log file, stopped with SIGTERM (then SIGKILL after
 * a grace period) in reverse start order, so producers stop before the consumers that drain them.
 */
export interface SupervisedSpec {
  name: string;
  command: string;
  args: string[];
  log: string;
  env?: NodeJS.ProcessEnv;
}

export interface Supervised {
  name: string;
  pid: number | undefined;
  log: string;
  exited: () => { code: number | null; signal: NodeJS.Signals | null } | undefined;
}

export interface Supervisor {
  start: (spec: SupervisedSpec) => Supervised;
  /** Stops every child, last started first. */
  stopAll: (graceMs: number) => Promise<{ name: string; result: 'exited' | 'killed' | 'already-exited'; code: number | null }[]>;
  children: () => Supervised[];
  /** Called when a child exits while the supervisor is not stopping. */
  onUnexpectedExit: (fn: (child: Supervised, code: number | null, signal: NodeJS.Signals | null) => void) => void;
}

export function createSupervisor(): Supervisor {
  const procs: { sup: Supervised; child: ChildProcess; done: Promise<void> }[] = [];
  let stopping = false;
  let onExit: ((child: Supervised, code: number | null, signal: NodeJS.Signals | null) => void) | undefined;

  // Last resort, whatever ends this process (an uncaught error, process.exit on a closed output):
  // children run in their own process groups, so nothing else would stop them. 'exit' allows only
  // synchronous work: a SIGTERM to each group still running; they shut down on their own.
  const onProcessExit = () => {
    for (const p of procs) if (!p.sup.exited() && p.child.pid !== undefined) signalGroup(p.child.pid, 'SIGTERM');
  };
  return {
    start(spec) {
      if (procs.length === 0) process.on('exit', onProcessExit);
      mkdirSync(dirname(spec.log), { recursive: true });
      const fd = openSync(spec.log, 'a');
      let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
      // Own process group: a terminal's Ctrl-C reaches only the supervisor, which then stops
      // the children in order (producers first) instead of all of them at once.
      const child = spawn(spec.command, spec.args, { stdio: ['ignore', fd, fd], env: spec.env ?? process.env, detached: true });
      closeSync(fd);
      const sup: Supervised = { name: spec.name, pid: child.pid, log: spec.log, exited: () => exitInfo };
      const done = new Promise<void>((resolve) => {
        child.once('exit', (code, signal) => {
          exitInfo = { code, signal };
          if (!stopping) onExit?.(sup, code, signal);
          resolve();
        });
        child.once('error', () => resolve());
      });
      procs.push({ sup, child, done });
      return sup;
    },
    async stopAll(graceMs) {
      stopping = true;
      const out: { name: string; result: 'exited' | 'killed' | 'already-exited'; code: number | null }[] = [];
      for (const p of [...procs].reverse()) {
        if (p.sup.exited()) {
          out.push({ name: p.sup.name, result: 'already-exited', code: p.sup.exited()?.code ?? null });
          continue;
        }
        p.child.kill('SIGTERM');
        const ended = await withTimeout(
          p.done.then(() => true),
          graceMs,
          () => false,
        );
        if (!ended) {
          p.child.kill('SIGKILL');
          await p.done;
        }
        out.push({ name: p.sup.name, result: ended ? 'exited' : 'killed', code: p.sup.exited()?.code ?? null });
      }
      process.removeListener('exit', onProcessExit);
      return out;
    },
    children: () => procs.map((p) => p.sup),
    onUnexpectedExit(fn) {
      onExit = fn;
    },
  };
}

/** Reads a few series from a Prometheus text endpoint: the sum over labels of each named metric. */
export async function scrapeSums(url: string, names: readonly string[], timeoutMs = 1500): Promise<Record<string, number> | undefined> {
  const samples = await scrapePrometheus(url, timeoutMs);
  if (!samples) return undefined;
  return Object.fromEntries(names.map((n) => [n, metricTotal(samples, n) ?? 0]));
}
