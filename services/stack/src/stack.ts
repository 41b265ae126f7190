import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_ACCOUNT_NAMES, renderUsersFragment, sha256Hex } from '@auditstream/clickhouse';
import { AuditstreamError, repoRoot as defaultRepoRoot, stateDir as defaultStateDir } from '@auditstream/core';
import { type ClickHouseClientSecurity, clickhouseHealthy, clickhousePaths, clickhouseVersion, findClickHouse, writeClickHouseConfig } from './clickhouse.js';
import {
  formatKafkaStorage,
  type KafkaClientSecurity,
  kafkaHealthy,
  kafkaJavaArgs,
  kafkaPaths,
  kafkaVersion,
  resolveKafkaClasspath,
  writeKafkaConfig,
} from './kafka.js';
import { isAlive, type PidRecord, portOpen, readPid, startDetached, startFailureMessage, stopProcess, waitUntil } from './process.js';
import { APICURIO_VERSION as APICURIO, REGISTRY_CCOMPAT_PATH, registryHealthy, registryJavaArgs, registryPaths, resolveRegistryJar } from './registry.js';
import { ensureCertificates, ensureSecrets, secretFile, tlsPaths } from './tls.js';
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
  /**
   * `up --secure`: TLS everywhere with a local CA, Kafka SASL_SSL (SCRAM-SHA-512) only, ClickHouse
   * HTTPS only, generated passwords. Recorded in the state dir, so down/status follow it.
   */
  secure?: boolean;
  log?: (msg: string) => void;
}

/** Kafka's SCRAM users of the secure stack. */
export const SECURE_KAFKA_USERS = { broker: 'auditstream-broker', client: 'auditstream' } as const;

/** The environment a client of the secure stack needs (see secureClientEnv). */
export type ClientEnv = Record<string, string>;

export interface ComponentStatus {
  /** kafka, clickhouse, registry; in a cluster zookeeper, kafka-<id>, clickhouse-s<shard>r<replica>. */
  name: string;
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
  secure: boolean;
  /** Secure stack: the AUDITSTREAM_* variables a client needs (file paths, never secrets). */
  clientEnv?: ClientEnv;
  started: string[];
  components: ComponentStatus[];
}

export interface Stack {
  up: () => Promise<UpResult>;
  down: () => Promise<{ name: string; result: string }[]>;
  status: () => Promise<ComponentStatus[]>;
  /** True when this state dir runs (or will run) the secure stack. */
  secure: () => boolean;
}

/** The file recording which kind of stack a state dir holds. */
export const modeFile = (stateDir: string) => join(stateDir, 'stack-mode');

/**
 * The client settings of the secure stack, as AUDITSTREAM_* variables: TLS with the stack's CA,
 * SCRAM user and password *file* for Kafka, https URL, CA and password *file* for ClickHouse
 * (the admin account; ingest and reader have their own password files next to it).
 */
export function secureClientEnv(stateDir: string, host: string, kafkaPort: number, clickhouseHttpsPort: number): ClientEnv {
  const tls = tlsPaths(stateDir);
  return {
    AUDITSTREAM_KAFKA__BROKERS: `${host}:${kafkaPort}`,
    AUDITSTREAM_KAFKA__SSL: 'true',
    AUDITSTREAM_KAFKA__SSL_CA_FILE: tls.caCert,
    AUDITSTREAM_KAFKA__SASL_MECHANISM: 'scram-sha-512',
    AUDITSTREAM_KAFKA__SASL_USERNAME: SECURE_KAFKA_USERS.client,
    AUDITSTREAM_KAFKA__SASL_PASSWORD_FILE: secretFile(stateDir, 'kafka-client'),
    AUDITSTREAM_CLICKHOUSE__URL: `https://${host}:${clickhouseHttpsPort}`,
    AUDITSTREAM_CLICKHOUSE__CA_FILE: tls.caCert,
    AUDITSTREAM_CLICKHOUSE__USERNAME: DEFAULT_ACCOUNT_NAMES.admin,
    AUDITSTREAM_CLICKHOUSE__PASSWORD_FILE: secretFile(stateDir, 'clickhouse-admin'),
  };
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
  const recordedMode = (): 'secure' | 'plain' | undefined => {
    const f = modeFile(state);
    if (!existsSync(f)) return undefined;
    return readFileSync(f, 'utf8').trim() === 'secure' ? 'secure' : 'plain';
  };
  const isSecure = () => {
    const m = recordedMode();
    return m ? m === 'secure' : options.secure === true;
  };
  const tls = tlsPaths(state);
  const kafkaSecurity = (): KafkaClientSecurity | undefined =>
    isSecure() ? { caFile: tls.caCert, username: SECURE_KAFKA_USERS.client, passwordFile: secretFile(state, 'kafka-client') } : undefined;
  const chSecurity = (): ClickHouseClientSecurity | undefined => {
    if (!isSecure() || !existsSync(tls.caCert) || !existsSync(secretFile(state, 'clickhouse-default'))) return undefined;
    return { ca: readFileSync(tls.caCert), username: 'default', password: readFileSync(secretFile(state, 'clickhouse-default'), 'utf8').trim() };
  };

  const defs = {
    kafka: {
      pidFile: join(pids, 'kafka.json'),
      get ports() {
        return [kPort, kCtl];
      },
      get endpoint() {
        return isSecure() ? `SASL_SSL://${host}:${kPort}` : `${host}:${kPort}`;
      },
      log: join(kp.logs, 'server.log'),
      stdout: join(kp.logs, 'stdout.log'),
      healthy: () => {
        const sec = kafkaSecurity();
        // Secure, but the password file is gone: the check cannot authenticate, so it is not healthy.
        if (sec && !existsSync(sec.passwordFile)) return Promise.resolve(false);
        return kafkaHealthy(host, kPort, sec);
      },
    },
    clickhouse: {
      pidFile: join(pids, 'clickhouse.json'),
      // The secure ClickHouse has no native TCP port.
      get ports() {
        return isSecure() ? [chHttp] : [chHttp, chTcp];
      },
      get endpoint() {
        return `${isSecure() ? 'https' : 'http'}://${host}:${chHttp}`;
      },
      log: join(cp.logs, 'clickhouse-server.log'),
      stdout: join(cp.logs, 'stdout.log'),
      healthy: () => (isSecure() ? (chSecurity() ? clickhouseHealthy(host, chHttp, chSecurity()) : Promise.resolve(false)) : clickhouseHealthy(host, chHttp)),
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

  async function statusOf(name: Name): Promise<ComponentStatus & { name: Name }> {
    const d = defs[name];
    const rec = readPid(d.pidFile);
    const running = rec !== undefined && isAlive(rec.pid);
    const healthy = running && (await d.healthy());
    const version = !healthy
      ? undefined
      : name === 'clickhouse'
        ? await clickhouseVersion(host, chHttp, chSecurity())
        : name === 'kafka'
          ? kafkaVersion(kp)
          : APICURIO;
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
    if (isSecure()) {
      const secrets = ensureSecrets(state);
      writeKafkaConfig(kp, {
        host,
        port: kPort,
        controllerPort: kCtl,
        secure: { keystorePem: tls.serverPem, caCert: tls.caCert, brokerUser: SECURE_KAFKA_USERS.broker, brokerPassword: secrets['kafka-broker'] },
      });
      formatKafkaStorage(kp, java, classpath, [
        { name: SECURE_KAFKA_USERS.broker, password: secrets['kafka-broker'] },
        { name: SECURE_KAFKA_USERS.client, password: secrets['kafka-client'] },
      ]);
    } else {
      writeKafkaConfig(kp, { host, port: kPort, controllerPort: kCtl });
      formatKafkaStorage(kp, java, classpath);
    }
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
    let secure: Parameters<typeof writeClickHouseConfig>[1]['secure'];
    if (isSecure()) {
      const secrets = ensureSecrets(state);
      secure = {
        certFile: tls.serverCert,
        keyFile: tls.serverKey,
        defaultPasswordSha256: sha256Hex(secrets['clickhouse-default']),
        usersFragment: renderUsersFragment({
          database: 'audit',
          passwordSha256: {
            ingest: sha256Hex(secrets['clickhouse-ingest']),
            reader: sha256Hex(secrets['clickhouse-reader']),
            admin: sha256Hex(secrets['clickhouse-admin']),
          },
          header: 'Generated by `auditstream stack up --secure`: service accounts with generated passwords (see the secrets/ folder).',
        }),
      };
    }
    writeClickHouseConfig(cp, {
      host,
      httpPort: chHttp,
      tcpPort: chTcp,
      modern: bin.modern,
      usersDir: join(root, 'deploy', 'clickhouse', 'users.d'),
      secure,
    });
    log(`starting ClickHouse (${bin.command}) on ${isSecure() ? 'https' : 'http'}://${host}:${chHttp}`);
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
    secure: isSecure,

    async status() {
      return Promise.all(namesFor(false).map(statusOf));
    },

    async up() {
      mkdirSync(state, { recursive: true });
      const mode = recordedMode();
      if (existsSync(modeFile(state)) && readFileSync(modeFile(state), 'utf8').trim() === 'cluster')
        throw new AuditstreamError(
          'STACK_MODE',
          `${state} holds a cluster stack (\`stack up --cluster\`); use another AUDITSTREAM_HOME for the single-server stack`,
        );
      if (options.secure === true && mode === 'plain') {
        throw new AuditstreamError(
          'STACK_MODE',
          `${state} holds a plaintext stack; a secure stack needs its own state dir (set AUDITSTREAM_HOME) and its own ports`,
          { field: 'secure' },
        );
      }
      // Data of a stack started before modes were recorded is plaintext.
      const hadData = existsSync(kp.data) || existsSync(cp.data);
      if (!mode) writeFileSync(modeFile(state), options.secure === true && !hadData ? 'secure\n' : 'plain\n');
      if (options.secure === true && !isSecure()) {
        throw new AuditstreamError('STACK_MODE', `${state} already holds plaintext Kafka/ClickHouse data; use another AUDITSTREAM_HOME for the secure stack`, {
          field: 'secure',
        });
      }
      if (isSecure() && options.withRegistry === true) {
        throw new AuditstreamError('STACK_MODE', 'the local schema registry serves plain HTTP only; --with-registry cannot be combined with --secure', {
          field: 'with-registry',
        });
      }
      if (isSecure()) {
        const certs = ensureCertificates(state, host, log);
        ensureSecrets(state);
        if (certs.created && (existsSync(join(pids, 'kafka.json')) || existsSync(join(pids, 'clickhouse.json'))))
          log('new certificates were created: restart the stack (down, then up) for running servers to use them');
      }
      const extra = () => (isSecure() ? { secure: true, clientEnv: secureClientEnv(state, host, kPort, chHttp) } : { secure: false });
      const names = namesFor(options.withRegistry === true);
      const before = await Promise.all(names.map(statusOf));
      if (before.every((s) => s.healthy)) return { alreadyRunning: true, started: [], components: before, ...extra() };
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
            // waitUntil treats a throwing check as "not yet", so an exit must end the wait by returning true.
            const exitedNow = () => {
              const rec = records[name] ?? readPid(d.pidFile);
              return rec !== undefined && !isAlive(rec.pid);
            };
            const ok = (await waitUntil(async () => exitedNow() || (await d.healthy()), startTimeout)) && !exitedNow();
            if (!ok) {
              const exited = exitedNow();
              const pid = records[name]?.pid;
              throw new AuditstreamError(
                'STACK_START_FAILED',
                startFailureMessage({ name, pid, exited, timeoutMs: startTimeout, stdout: d.stdout, log: d.log }),
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
      return { alreadyRunning: false, started, components: await Promise.all(names.map(statusOf)), ...extra() };
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
