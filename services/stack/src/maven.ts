import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuditstreamError } from '@auditstream/core';
import type { StackErrorCode } from './error-codes.js';
import { ensureTool } from './tools.js';

/**
 * Copies the runtime jars a pom resolves from Maven Central into `jars` (once per pom content, so
 * a version bump refreshes the cache). The Kafka brokers and ZooKeeper both run from such a folder.
 */
export function resolvePomJars(opts: { jars: string; pom: string; what: string; code: StackErrorCode }, log: (msg: string) => void): string {
  const digest = createHash('sha256').update(readFileSync(opts.pom)).digest('hex').slice(0, 16);
  const marker = join(opts.jars, `.resolved-${digest}`);
  if (!existsSync(marker)) {
    const mvn = ensureTool('mvn', 'maven', `Maven (needed to fetch ${opts.what} from Maven Central)`, log);
    log(`resolving the jars of ${opts.what} from Maven Central (first run only)`);
    rmSync(opts.jars, { recursive: true, force: true });
    mkdirSync(opts.jars, { recursive: true });
    try {
      execFileSync(mvn, ['-q', '-B', '-f', opts.pom, 'dependency:copy-dependencies', `-DoutputDirectory=${opts.jars}`, '-DincludeScope=runtime'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (cause) {
      const out = String((cause as { stdout?: Buffer }).stdout ?? '') + String((cause as { stderr?: Buffer }).stderr ?? '');
      throw new AuditstreamError(opts.code, `mvn could not resolve the jars of ${opts.what} from ${opts.pom}:\n${out.slice(-2000)}`, {
        cause,
        retriable: true,
      });
    }
    writeFileSync(marker, new Date().toISOString());
  }
  return `${opts.jars}/*`;
}
