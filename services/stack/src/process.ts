import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { dirname } from 'node:path';
import { sleep } from '@auditstream/core';

/** What `up` records for each process it starts, so `down` stops only those. */
export interface PidRecord {
  name: string;
  pid: number;
  started_at: string;
  command: string[];
  log: string;
}

export function readPid(file: string): PidRecord | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as PidRecord;
  } catch {
    return undefined;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !isZombie(pid);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

/**
 * How each process this one started ended (`exit 1`, `signal SIGKILL`), by pid: a server that dies
 * before writing a line (OOM killer, a JVM refusing its flags) leaves only that to go on.
 */
const exits = new Map<number, string>();
export const exitStatus = (pid: number): string | undefined => exits.get(pid);

/** Starts a detached process in its own process group, stdout and stderr appended to `log`. */
export function startDetached(options: {
  name: string;
  command: string;
  args: string[];
  cwd: string;
  log: string;
  pidFile: string;
  env?: NodeJS.ProcessEnv;
}): PidRecord {
  mkdirSync(dirname(options.log), { recursive: true });
  mkdirSync(dirname(options.pidFile), { recursive: true });
  const fd = openSync(options.log, 'a');
  try {
    const child = spawn(options.command, options.args, {
      cwd: options.cwd,
      detached: true,
      stdio: ['ignore', fd, fd],
      env: options.env ?? process.env,
    });
    if (child.pid === undefined) throw new Error(`could not start ${options.command}`);
    child.once('exit', (code, signal) => exits.set(child.pid as number, code !== null ? `exit ${code}` : `signal ${signal}`));
    child.unref();
    const record: PidRecord = {
      name: options.name,
      pid: child.pid,
      started_at: new Date().toISOString(),
      command: [options.command, ...options.args],
      log: options.log,
    };
    writeFileSync(options.pidFile, `${JSON.stringify(record, null, 2)}\n`);
    return record;
  } finally {
    closeSync(fd);
  }
}

/** SIGTERM to the process group, wait, then SIGKILL. Returns how it ended. */
export async function stopProcess(record: PidRecord, pidFile: string, graceMs: number): Promise<'stopped' | 'killed' | 'not-running'> {
  if (!isAlive(record.pid)) {
    rmSync(pidFile, { force: true });
    return 'not-running';
  }
  signalGroup(record.pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isAlive(record.pid)) {
      rmSync(pidFile, { force: true });
      return 'stopped';
    }
    await sleep(200);
  }
  signalGroup(record.pid, 'SIGKILL');
  for (let i = 0; i < 50 && isAlive(record.pid); i++) await sleep(100);
  rmSync(pidFile, { force: true });
  return 'killed';
}

/** A signal to the process group of pid (a detached child leads its own), else to pid alone. */
export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

/** True when something accepts TCP connections on host:port. */
export function portOpen(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host, port });
    const done = (v: boolean) => {
      sock.destroy();
      resolve(v);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** Polls `check` until it is true or the deadline passes. */
export async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, intervalMs = 500): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return true;
    await sleep(intervalMs);
  }
  return false;
}

/** The last lines of a log file, for error messages when a server fails to start. */
export function tail(file: string, lines = 15): string {
  if (!existsSync(file)) return '(no log yet)';
  const text = readFileSync(file, 'utf8');
  if (text.trim() === '') return '(empty)';
  return text
    .split('\n')
    .slice(-lines - 1)
    .join('\n');
}

/**
 * Why a server did not start: how it ended, then the tails of its stdout/stderr file AND of its own
 * log file. A JVM server logs a fatal error at start (a port it cannot bind…) to its log file only, so
 * the stdout tail alone can be empty (ZooKeeper's was, once, in CI).
 */
export function startFailureMessage(p: { name: string; pid?: number | undefined; exited: boolean; timeoutMs: number; stdout: string; log: string }): string {
  const how = p.exited ? `exited (${(p.pid !== undefined && exitStatus(p.pid)) || 'status unknown'})` : `did not answer within ${p.timeoutMs / 1000} s`;
  const own = p.log === p.stdout ? [] : [`last lines of ${p.log}:`, tail(p.log, 25)];
  return [`${p.name} ${how}`, `last lines of ${p.stdout} (stdout and stderr):`, tail(p.stdout), ...own].join('\n');
}
