/**
 * The real `auditstream` bin as a child process, configured through AUDITSTREAM_* variables the
 * way an operator runs it; its stdout/stderr is kept.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot, sleep } from '@auditstream/core';

const bin = join(repoRoot(), 'services', 'cli', 'bin', 'auditstream.js');

/** Everything the children printed, per child, for the leak test. */
export interface Captured {
  name: string;
  output: () => string;
}

export interface Child extends Captured {
  /** stdout and stderr apart (`output()` interleaves them as they came). */
  stdout: () => string;
  stderr: () => string;
  proc: ChildProcess;
  exited: Promise<number | string>;
  /** Resolves when the output matches re; rejects on exit or timeout, with the output's tail. */
  waitFor(re: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  stop(): Promise<void>;
}

export function spawnCli(name: string, args: string[], env: Record<string, string>): Child {
  const proc = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let stdout = '';
  let stderr = '';
  proc.stdout?.on('data', (d) => {
    out += String(d);
    stdout += String(d);
  });
  proc.stderr?.on('data', (d) => {
    out += String(d);
    stderr += String(d);
  });
  const exited = new Promise<number | string>((resolve) => proc.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  let done = false;
  void exited.then(() => {
    done = true;
  });
  return {
    name,
    proc,
    exited,
    output: () => out,
    stdout: () => stdout,
    stderr: () => stderr,
    async waitFor(re, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const m = out.match(re);
        if (m) return m;
        if (done) break;
        await sleep(200);
      }
      throw new Error(`${name}: ${done ? 'exited' : 'timed out'} before ${re}; output tail:\n${out.slice(-3000)}`);
    },
    async stop() {
      if (done) return;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/**
 * Runs a CLI command to its end; resolves with its exit code and output (also stdout and stderr apart).
 * Asynchronous on purpose: a test's own clients (HTTP keep-alive, Kafka) keep being served while the
 * command runs, where a spawnSync would block the event loop past their timeouts.
 */
export async function runCli(
  name: string,
  args: string[],
  env: Record<string, string>,
  timeoutMs = 60_000,
): Promise<{ code: number | string; output: string; stdout: string; stderr: string; child: Child }> {
  const child = spawnCli(name, args, env);
  const t = setTimeout(() => child.proc.kill('SIGKILL'), timeoutMs);
  const code = await child.exited;
  clearTimeout(t);
  return { code, output: child.output(), stdout: child.stdout(), stderr: child.stderr(), child };
}
