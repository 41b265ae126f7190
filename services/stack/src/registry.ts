import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuditstreamError } from '@auditstream/core';
import { ensureTool } from './tools.js';

/**
 * Apicurio Registry, a Confluent-compatible schema registry from Maven Central
 * (`io.apicurio:apicurio-registry-app`, the `all` tar.gz: a Quarkus runner jar).
 * 2.6.x runs on Java 17 like the broker; 3.x needs Java 21. In-memory storage.
 */
export const APICURIO_VERSION = '2.6.13.Final';
export const REGISTRY_CCOMPAT_PATH = '/apis/ccompat/v7';

export interface RegistryPaths {
  home: string;
  dist: string;
  logs: string;
}

export function registryPaths(stateDir: string): RegistryPaths {
  const home = join(stateDir, 'registry');
  return { home, dist: join(home, `apicurio-${APICURIO_VERSION}`), logs: join(home, 'logs') };
}

export function resolveRegistryJar(paths: RegistryPaths, log: (msg: string) => void): string {
  const find = () => (existsSync(paths.dist) ? readdirSync(paths.dist).find((f) => /-runner\.jar$/.test(f)) : undefined);
  let jar = find();
  if (!jar) {
    const mvn = ensureTool('mvn', 'maven', 'Maven (needed to fetch Apicurio Registry from Maven Central)', log);
    log(`resolving Apicurio Registry ${APICURIO_VERSION} from Maven Central (first run only)`);
    rmSync(paths.dist, { recursive: true, force: true });
    mkdirSync(paths.dist, { recursive: true });
    try {
      execFileSync(
        mvn,
        ['-q', '-B', 'dependency:unpack', `-Dartifact=io.apicurio:apicurio-registry-app:${APICURIO_VERSION}:tar.gz:all`, `-DoutputDirectory=${paths.dist}`],
        {
          cwd: paths.home,
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
    } catch (cause) {
      const out = String((cause as { stdout?: Buffer }).stdout ?? '') + String((cause as { stderr?: Buffer }).stderr ?? '');
      throw new AuditstreamError('STACK_REGISTRY_JARS', `mvn could not fetch Apicurio Registry:\n${out.slice(-2000)}`, { cause, retriable: true });
    }
    jar = find();
    if (!jar) throw new AuditstreamError('STACK_REGISTRY_JARS', `the Apicurio distribution in ${paths.dist} has no runner jar`);
  }
  mkdirSync(paths.logs, { recursive: true });
  writeFileSync(join(paths.home, 'VERSION'), APICURIO_VERSION);
  return join(paths.dist, jar);
}

export function registryJavaArgs(jar: string, host: string, port: number): string[] {
  return ['-Xms64m', '-Xmx512m', `-Dquarkus.http.host=${host}`, `-Dquarkus.http.port=${port}`, '-Dquarkus.log.level=WARN', '-jar', jar];
}

export async function registryHealthy(host: string, port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://${host}:${port}${REGISTRY_CCOMPAT_PATH}/subjects`, { signal: AbortSignal.timeout(2000) });
    return res.ok;
  } catch {
    return false;
  }
}
