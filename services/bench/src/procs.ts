// Child processes of the benchmark (ingest, alerting, api through the real CLI) and /proc
// sampling of any pid: peak RSS and CPU seconds, per process.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuditstreamError, repoRoot, sleep } from '@auditstream/core';

const CLK_TCK = 100; // USER_HZ on Linux (sysconf(_SC_CLK_TCK) is 100 on every mainstream kernel config).

export interface ProcSample {
  /** Resident set size now, bytes. */
  rss: number;
  /** Peak resident set size over the process's life (VmHWM), bytes. */
  hwm: number;
  /** utime + stime, seconds. */
  cpu_s: number;
}

/** One /proc reading of a pid; undefined once it is gone. */
export function readProc(pid: number): ProcSample | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name (which may contain spaces): state is field 3, utime 14, stime 15.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(rest[11]);
    const stime = Number(rest[12]);
    const kb = (re: RegExp) => Number(re.exec(status)?.[1] ?? 0) * 1024;
    return { rss: kb(/VmRSS:\s+(\d+) kB/), hwm: kb(/VmHWM:\s+(\d+) kB/), cpu_s: (utime + stime) / CLK_TCK };
  } catch {
    return undefined;
  }
}

/** Peak RSS (sampled VmRSS, and VmHWM when `lifetime`) and CPU seconds of a pid over an interval. */
export interface ProcWatch {
  /** Samples once more and returns peak RSS (bytes) and CPU seconds since the watch began. */
  read(): { peak_rss_bytes: number; cpu_s: number };
  stop(): void;
}

/**
 * Watches a pid every `everyMs`. For processes started by the benchmark (`lifetime`), the peak is
 * VmHWM (exact); for long-running servers (ClickHouse, Kafka) it is the largest sampled VmRSS
 * during the watch, since their VmHWM covers their whole life.
 */
export function watchProc(pid: number, options: { lifetime: boolean; everyMs?: number }): ProcWatch {
  const first = readProc(pid);
  const cpu0 = first?.cpu_s ?? 0;
  let peak = 0;
  let cpu = 0;
  const sample = () => {
    const s = readProc(pid);
    if (!s) return;
    peak = Math.max(peak, options.lifetime ? s.hwm : s.rss);
    cpu = s.cpu_s - cpu0;
  };
  sample();
  const timer = setInterval(sample, options.everyMs ?? 250);
  timer.unref();
  return {
    read() {
      sample();
      return { peak_rss_bytes: peak, cpu_s: cpu };
    },
    stop() {
      clearInterval(timer);
    },
  };
}

export interface ServiceChild {
  name: string;
  proc: ChildProcess;
  exited: Promise<number | string>;
  output(): string;
  /** Resolves with the first match of `re` in the output; rejects when the child exits first or after timeoutMs. */
  waitForLog(re: RegExp, timeoutMs: number): Promise<RegExpExecArray>;
  /** Peak RSS (VmHWM) and CPU seconds so far (kept after exit: the last sample). */
  usage(): { peak_rss_bytes: number; cpu_s: number };
  /** SIGTERM, then SIGKILL after graceMs; resolves when it has exited. */
  stop(graceMs?: number): Promise<number | string>;
}

/** Runs `node [nodeArgs] auditstream <service>` (services/cli/bin/auditstream.js) with the given environment on top of ours. */
export function spawnService(name: 'ingest' | 'alerting' | 'api', env: Record<string, string>, nodeArgs: readonly string[] = []): ServiceChild {
  const bin = join(repoRoot(), 'services', 'cli', 'bin', 'auditstream.js');
  const proc = spawn(process.execPath, [...nodeArgs, bin, name], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer) => {
    out += String(d);
    // Keep the output bounded: the start-up lines we wait for are early, errors are at the end.
    if (out.length > 2_000_000) out = out.slice(0, 200_000) + out.slice(-200_000);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const exited = new Promise<number | string>((resolve) => proc.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const watch = proc.pid ? watchProc(proc.pid, { lifetime: true, everyMs: 200 }) : undefined;
  let last = { peak_rss_bytes: 0, cpu_s: 0 };
  const usage = () => {
    if (watch) {
      const r = watch.read();
      // After exit /proc is gone: keep the last good reading.
      if (r.peak_rss_bytes >= last.peak_rss_bytes) last = r;
    }
    return last;
  };
  void exited.then(() => watch?.stop());
  return {
    name,
    proc,
    exited,
    output: () => out,
    usage,
    async waitForLog(re, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      let done = false;
      void exited.then(() => {
        done = true;
      });
      while (Date.now() < deadline) {
        const m = re.exec(out);
        if (m) return m;
        if (done) break;
        await sleep(50);
      }
      const m = re.exec(out);
      if (m) return m;
      throw new AuditstreamError(
        'BENCH_CHILD',
        `auditstream ${name} ${done ? 'exited' : `did not start within ${timeoutMs} ms`}; last output: ${out.slice(-1500)}`,
        {},
      );
    },
    async stop(graceMs = 30_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return exited;
      usage();
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      const r = await exited;
      clearTimeout(t);
      return r;
    },
  };
}
