import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { AuditstreamError } from '@auditstream/core';

/** Absolute path of an executable on PATH, or undefined. */
export function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  const out = r.stdout.trim();
  return r.status === 0 && out ? out : undefined;
}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;
const isDebian = () => existsSync('/etc/debian_version') && which('apt-get') !== undefined;

let aptUpdated = false;

/**
 * Installs Debian packages when we are root on Debian; otherwise (or when apt fails)
 * throws an error that says what to install by hand.
 */
export function aptInstall(packages: string[], why: string, log: (msg: string) => void): void {
  const hint = `install it yourself, e.g. \`sudo apt-get install ${packages.join(' ')}\``;
  if (!isRoot() || !isDebian()) {
    throw new AuditstreamError('STACK_MISSING_TOOL', `${why} is missing and cannot be installed automatically (not root on Debian): ${hint}`);
  }
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    if (!aptUpdated) {
      log('running apt-get update');
      execFileSync('apt-get', ['update', '-q'], { stdio: 'ignore', env });
      aptUpdated = true;
    }
    log(`installing ${packages.join(' ')} with apt-get`);
    execFileSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...packages], { stdio: 'ignore', env });
  } catch (cause) {
    throw new AuditstreamError('STACK_MISSING_TOOL', `${why} is missing and apt-get could not install it: ${hint}`, { cause });
  }
}

export function ensureTool(cmd: string, aptPackage: string, why: string, log: (msg: string) => void): string {
  const found = which(cmd);
  if (found) return found;
  aptInstall([aptPackage], why, log);
  const after = which(cmd);
  if (!after) throw new AuditstreamError('STACK_MISSING_TOOL', `${why}: installed ${aptPackage} but \`${cmd}\` is still not on PATH`);
  return after;
}
