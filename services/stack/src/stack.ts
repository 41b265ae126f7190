import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { AuditstreamError, repoRoot as defaultRepoRoot, stateDir as defaultStateDir } from '@auditstream/core';
import { clickhouseHealthy, clickhousePaths, clickhouseVersion, findClickHouse, writeClickHouseConfig } from './clickhouse.js';
import { formatKafkaStorage, kafkaHealthy, kafkaJavaArgs, kafkaPaths, kafkaVersion, resolveKafkaClasspath, writeKafkaConfig } from './kafka.js';
import { isAlive, type PidRecord, portOpen, readPid, startDetached, stopProcess, tail, waitUntil } from './process.js';
import { APICURIO_VERSION as APICURIO, REGISTRY_CCOMPAT_PATH, registryHealthy, registryJavaArgs, registryPaths, resolveRegistryJar } from './registry.js';
import { ensureTool } from './tools.js';

export interface StackOptions {
  stateDir?: string;
  repoRoot?: string;
  host?: string;
  kafkaPort?: number;
  kafkaControllerPort?: number;
  clickhouseHttpPort?: number;
  clickhouseTcpPort?: number;
  /** Also run Apicurio Registry (Confluent-compatible API) on registryPort. */
  withRegistry?: boolean;
  registryPort?: number;
  /** How long `up` waits for each server to answer. */
  startTimeoutMs?: number;
  /** How long `down` waits after SIGTERM before SIGKILL. */
  stopGraceMs?: number;
  log?: (msg: string) => void;
}

export interface ComponentStatus {
  name: 'kafka' | 'clickhouse' | 'registry';
  pid: number | undefined;
  running: boolean;
  healthy: boolean;
  endpoint: string;
  ports: number[];
  log: string;
  version?: string | undefined;
}

export interface UpResult {
  alreadyRunning: boolean;
  started: string[];
  components: ComponentStatus[];
}

export interface Stack {
  up: () => Promise<UpResult>;
  down: () => Promise<{ name: string; result: string }[]>;
  status: () => Promise<ComponentStatus[]>;
}

/** The local stack: a real Kafka (KRaft) and a real ClickHouse on loopback, without Docker. */
export function createStack(options: StackOptions = {}): Stack {
  const state = options.stateDir ?? defaultStateDir();
  const root = options.repoRoot ?? defaultRepoRoot();
  const host = options.host ?? '127.0.0.1';
  const kPort = options.kafkaPort ?? 9092;
  const kCtl = options.kafkaControllerPort ?? 9093;
  const chHttp = options.clickhouseHttpPort ?? 8123;
  const chTcp = options.clickhouseTcpPort ?? 9000;
  const regPort = options.registryPort ?? 8081;
  const startTimeout = options.startTimeoutMs ?? 180_000;
  const grace = options.stopGraceMs ?? 30_000;
  const log = options.log ?? (() => {});
  const pids = join(state, 'pids');
  const kp = kafkaPaths(state);
  const cp = clickhousePaths(state);
  const rp = registryPaths(state);

  const defs = {
    kafka: {
      pidFile: join(pids, 'kafka.json'),
      ports: [kPort, kCtl],
      endpoint: `${host}:${kPort}`,
      log: join(kp.logs, 'server.log'),
      stdout: join(kp.logs, 'stdout.log'),
      healthy: () => kafkaHealthy(host, kPort),
    },
    clickhouse: {
      pidFile: join(pids, 'clickhouse.json'),
      ports: [chHttp, chTcp],
      endpoint: `http://${host}:${chHttp}`,
      log: join(cp.logs, 'clickhouse-server.log'),
      stdout: join(cp.logs, 'stdout.log'),
      healthy: () => clickhouseHealthy(host, chHttp),
    },
    registry: {
      pidFile: join(pids, 'registry.json'),
      ports: [regPort],
      endpoint: `http://${host}:${regPort}${REGISTRY_CCOMPAT_PATH}`,
      log: join(rp.logs, 'stdout.log'),
      stdout: join(rp.logs, 'stdout.log'),
      healthy: () => registryHealthy(host, regPort),
    },
  } as const;
  type Name = keyof typeof defs;
  // The registry is optional: part of the stack when asked for, or when a previous `up --with-registry` left it running.
  const namesFor = (wantRegistry: boolean): Name[] =>
    wantRegistry || existsSync(defs.registry.pidFile) ? ['clickhouse', 'kafka', 'registry'] : ['clickhouse', 'kafka'];

  async function statusOf(name: Name): Promise<ComponentStatus> {
    const d = defs[name];
    const rec = readPid(d.pidFile);
    const running = rec !== undefined && isAlive(rec.pid);
    const healthy = running && (await d.healthy());
    const version = !healthy ? undefined : name === 'clickhouse' ? await clickhouseVersion(host, chHttp) : name === 'kafka' ? kafkaVersion(kp) : APICURIO;
    return { name, pid: running ? rec?.pid : undefined, running, healthy, endpoint: d.endpoint, ports: [...d.ports], log: d.log, version };
  }

  async function assertPortsFree(name: Name): Promise<void> {
    for (const port of defs[name].ports) {
      if (await portOpen(host, port)) {
        throw new AuditstreamError(
          'STACK_PORT_IN_USE',
          `port ${host}:${port} (needed by ${name}) is already in use by a process this stack did not start; stop it (see \`ss -ltnp 'sport = :${port}'\`) or free the port`,
        );
      }
    }
  }

  function startKafka(): PidRecord {
    const java = ensureTool('java', 'default-jre-headless', 'Java 17+ (needed to run the Kafka broker)', log);
    const classpath = resolveKafkaClasspath(kp, join(root, 'deploy', 'kafka', 'pom.xml'), log);
    writeKafkaConfig(kp, { host, port: kPort, controllerPort: kCtl });
    formatKafkaStorage(kp, java, classpath);
    log(`starting Kafka ${kafkaVersion(kp) ?? ''} on ${host}:${kPort}`);
    return startDetached({
      name: 'kafka',
      command: java,
      args: kafkaJavaArgs(kp, classpath),
      cwd: kp.home,
      log: defs.kafka.stdout,
      pidFile: defs.kafka.pidFile,
    });
  }

  function startClickHouse(): PidRecord {
    const bin = findClickHouse(log);
    writeClickHouseConfig(cp, { host, httpPort: chHttp, tcpPort: chTcp, modern: bin.modern, usersDir: join(root, 'deploy', 'clickhouse', 'users.d') });
    log(`starting ClickHouse (${bin.command}) on ${host}:${chHttp}`);
    return startDetached({
      name: 'clickhouse',
      command: bin.command,
      args: [...bin.prefix, `--config-file=${cp.config}`],
      cwd: cp.home,
      log: defs.clickhouse.stdout,
      pidFile: defs.clickhouse.pidFile,
    });
  }

  function startRegistry(): PidRecord {
    const java = ensureTool('java', 'default-jre-headless', 'Java 17+ (needed to run Apicurio Registry)', log);
    const jar = resolveRegistryJar(rp, log);
    log(`starting Apicurio Registry on ${host}:${regPort}`);
    return startDetached({
      name: 'registry',
      command: java,
      args: registryJavaArgs(jar, host, regPort),
      cwd: rp.home,
      log: defs.registry.stdout,
      pidFile: defs.registry.pidFile,
    });
  }

  const starters: Record<Name, () => PidRecord> = { kafka: startKafka, clickhouse: startClickHouse, registry: startRegistry };

  return {
    async status() {
      return Promise.all(namesFor(false).map(statusOf));
    },

    async up() {
      mkdirSync(state, { recursive: true });
      const names = namesFor(options.withRegistry === true);
      const before = await Promise.all(names.map(statusOf));
      if (before.every((s) => s.healthy)) return { alreadyRunning: true, started: [], components: before };
      const started: Name[] = [];
      const records: Partial<Record<Name, PidRecord>> = {};
      for (const s of before) {
        if (s.running) continue;
        await assertPortsFree(s.name);
      }
      try {
        for (const s of before) {
          if (s.running) continue;
          records[s.name] = starters[s.name]();
          started.push(s.name);
        }
        await Promise.all(
          names.map(async (name) => {
            const d = defs[name];
            const ok = await waitUntil(async () => {
              const rec = records[name] ?? readPid(d.pidFile);
              if (rec && !isAlive(rec.pid)) throw new Error('exited');
              return d.healthy();
            }, startTimeout);
            if (!ok) {
              const rec = records[name] ?? readPid(d.pidFile);
              const exited = rec ? !isAlive(rec.pid) : true;
              throw new AuditstreamError(
                'STACK_START_FAILED',
                `${name} ${exited ? 'exited' : `did not answer within ${startTimeout / 1000} s`}; last lines of ${d.stdout}:\n${tail(d.stdout)}\n(also see ${d.log})`,
              );
            }
          }),
        );
      } catch (err) {
        // Leave nothing half-started behind.
        for (const name of started) {
          const rec = records[name];
          if (rec) await stopProcess(rec, defs[name].pidFile, 5000);
        }
        if (err instanceof AuditstreamError) throw err;
        throw new AuditstreamError('STACK_START_FAILED', `starting the stack failed: ${(err as Error).message}`, { cause: err });
      }
      return { alreadyRunning: false, started, components: await Promise.all(names.map(statusOf)) };
    },

    async down() {
      const out: { name: string; result: string }[] = [];
      // Kafka first: it may still flush to disk; ClickHouse has no dependency on it.
      for (const name of ['registry', 'kafka', 'clickhouse'] as Name[]) {
        const d = defs[name];
        const rec = readPid(d.pidFile);
        if (!rec) {
          if (name !== 'registry') out.push({ name, result: 'not started by this stack' });
          continue;
        }
        out.push({ name, result: await stopProcess(rec, d.pidFile, grace) });
      }
      return out;
    },
  };
}

export function formatStatus(components: ComponentStatus[]): string {
  const rows = components.map((c) => [
    c.name,
    c.pid ? String(c.pid) : '-',
    c.ports.join(','),
    c.healthy ? 'healthy' : c.running ? 'unhealthy' : 'stopped',
    c.version ?? '-',
    c.endpoint,
    c.log,
  ]);
  const header = ['process', 'pid', 'ports', 'health', 'version', 'endpoint', 'log'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const fmt = (r: string[]) =>
    r
      .map((v, i) => v.padEnd(widths[i] as number))
      .join('  ')
      .trimEnd();
  return [fmt(header), ...rows.map(fmt)].join('\n');
}

export const stackStateExists = (dir: string = defaultStateDir()) => existsSync(join(dir, 'pids'));
