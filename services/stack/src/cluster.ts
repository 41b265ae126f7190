import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuditstreamError, repoRoot as defaultRepoRoot, stateDir as defaultStateDir } from '@auditstream/core';
import { clickhouseHealthy, clickhousePaths, clickhouseVersion, findClickHouse, httpGet, writeClickHouseConfig } from './clickhouse.js';
import {
  formatKafkaStorage,
  kafkaHealthy,
  kafkaJavaArgs,
  kafkaPaths,
  kafkaVersion,
  newKafkaClusterId,
  resolveKafkaClasspath,
  writeKafkaConfig,
} from './kafka.js';
import { resolvePomJars } from './maven.js';
import { isAlive, type PidRecord, portOpen, readPid, startDetached, startFailureMessage, stopProcess, waitUntil } from './process.js';
import type { ClientEnv, ComponentStatus, Stack, UpResult } from './stack.js';
import { ensureTool } from './tools.js';
import { writeZooKeeperConfig, zookeeperHealthy, zookeeperJavaArgs, zookeeperPaths, zookeeperVersion } from './zookeeper.js';

/** The cluster name in ClickHouse's remote_servers, and what `clickhouse.cluster` names. */
export const CLUSTER_NAME = 'auditstream';
export const CLUSTER_BROKERS = 3;
export const CLUSTER_SHARDS = 2;
export const CLUSTER_REPLICAS = 2;

export interface ClusterLayout {
  host: string;
  basePort: number;
  zookeeper: { port: number };
  brokers: { id: number; port: number; controllerPort: number }[];
  clickhouse: { name: string; shard: number; replica: string; httpPort: number; tcpPort: number; interserverPort: number }[];
}

/**
 * Every port of the cluster, derived from one base port: ZooKeeper at base, broker i at base+10+i
 * (controller base+20+i), ClickHouse server k at base+31+k (HTTP), base+41+k (native), base+51+k
 * (interserver). One number to move the whole cluster off ports something else holds.
 */
export function clusterLayout(host: string, basePort: number): ClusterLayout {
  const brokers = Array.from({ length: CLUSTER_BROKERS }, (_, i) => ({ id: i + 1, port: basePort + 11 + i, controllerPort: basePort + 21 + i }));
  const clickhouse = Array.from({ length: CLUSTER_SHARDS * CLUSTER_REPLICAS }, (_, k) => {
    const shard = Math.floor(k / CLUSTER_REPLICAS) + 1;
    const replica = `s${shard}r${(k % CLUSTER_REPLICAS) + 1}`;
    return { name: `clickhouse-${replica}`, shard, replica, httpPort: basePort + 31 + k, tcpPort: basePort + 41 + k, interserverPort: basePort + 51 + k };
  });
  return { host, basePort, zookeeper: { port: basePort }, brokers, clickhouse };
}

/** What a client of the cluster sets: every broker, RF 3 topics, the first ClickHouse server and the cluster name. */
export function clusterClientEnv(l: ClusterLayout): ClientEnv {
  return {
    AUDITSTREAM_KAFKA__BROKERS: l.brokers.map((b) => `${l.host}:${b.port}`).join(','),
    AUDITSTREAM_TOPICS__REPLICATION_FACTOR: String(CLUSTER_BROKERS),
    AUDITSTREAM_CLICKHOUSE__URL: `http://${l.host}:${l.clickhouse[0]?.httpPort}`,
    AUDITSTREAM_CLICKHOUSE__CLUSTER: CLUSTER_NAME,
  };
}

export interface ClusterStackOptions {
  stateDir?: string;
  repoRoot?: string;
  host?: string;
  basePort?: number;
  startTimeoutMs?: number;
  stopGraceMs?: number;
  log?: (msg: string) => void;
}

/** The file where `up --cluster` records its layout, so down/status find every process whatever the config says later. */
export const clusterLayoutFile = (stateDir: string) => join(stateDir, 'cluster.json');

interface Member {
  name: string;
  ports: number[];
  endpoint: string;
  pidFile: string;
  stdout: string;
  log: string;
  start: () => PidRecord;
  healthy: () => Promise<boolean>;
  version: () => Promise<string | undefined>;
}

/**
 * `stack up --cluster`: ZooKeeper, three KRaft brokers (each broker and controller) and ClickHouse
 * as 2 shards × 2 replicas, each process with its own ports and data directory under the state dir.
 */
export function createClusterStack(options: ClusterStackOptions = {}): Stack {
  const state = options.stateDir ?? defaultStateDir();
  const root = options.repoRoot ?? defaultRepoRoot();
  const startTimeout = options.startTimeoutMs ?? 300_000;
  const grace = options.stopGraceMs ?? 30_000;
  const log = options.log ?? (() => {});
  const recorded = existsSync(clusterLayoutFile(state)) ? (JSON.parse(readFileSync(clusterLayoutFile(state), 'utf8')) as ClusterLayout) : undefined;
  const layout = recorded ?? clusterLayout(options.host ?? '127.0.0.1', options.basePort ?? 31000);
  const { host } = layout;
  const dir = join(state, 'cluster');
  const pids = join(state, 'pids');
  // The brokers share one jar folder: the Maven copy is ~100 MB.
  const jars = kafkaPaths(state).jars;
  const java = () => ensureTool('java', 'default-jre-headless', 'Java 17+ (needed to run Kafka and ZooKeeper)', log);

  const zk = zookeeperPaths(dir);
  const members: Member[] = [
    {
      name: 'zookeeper',
      ports: [layout.zookeeper.port],
      endpoint: `${host}:${layout.zookeeper.port}`,
      pidFile: join(pids, 'zookeeper.json'),
      stdout: join(zk.logs, 'stdout.log'),
      log: join(zk.logs, 'zookeeper.log'),
      start() {
        const cp = resolvePomJars({ jars: zk.jars, pom: join(root, 'deploy', 'zookeeper', 'pom.xml'), what: 'ZooKeeper', code: 'STACK_ZOOKEEPER_JARS' }, log);
        writeZooKeeperConfig(zk, { host, port: layout.zookeeper.port });
        return startDetached({ name: this.name, command: java(), args: zookeeperJavaArgs(zk, cp), cwd: zk.home, log: this.stdout, pidFile: this.pidFile });
      },
      healthy: () => zookeeperHealthy(host, layout.zookeeper.port),
      version: () => zookeeperVersion(host, layout.zookeeper.port),
    },
  ];

  let clusterId: string | undefined;
  for (const b of layout.brokers) {
    const kp = { ...kafkaPaths(join(dir, `kafka-${b.id}`)), jars };
    members.push({
      name: `kafka-${b.id}`,
      ports: [b.port, b.controllerPort],
      endpoint: `${host}:${b.port}`,
      pidFile: join(pids, `kafka-${b.id}.json`),
      stdout: join(kp.logs, 'stdout.log'),
      log: join(kp.logs, 'server.log'),
      start() {
        const cp = resolveKafkaClasspath(kp, join(root, 'deploy', 'kafka', 'pom.xml'), log);
        writeKafkaConfig(kp, {
          host,
          port: b.port,
          controllerPort: b.controllerPort,
          quorum: {
            nodeId: b.id,
            voters: layout.brokers.map((v) => `${v.id}@${host}:${v.controllerPort}`),
            replicationFactor: CLUSTER_BROKERS,
            minInsyncReplicas: 2,
          },
        });
        // Every broker of a quorum is formatted with the same cluster id (kept with the data).
        clusterId ??= readClusterId() ?? newKafkaClusterId();
        formatKafkaStorage(kp, java(), cp, [], clusterId);
        return startDetached({
          name: this.name,
          command: java(),
          args: kafkaJavaArgs(kp, cp, '-Xms128m -Xmx384m'),
          cwd: kp.home,
          log: this.stdout,
          pidFile: this.pidFile,
        });
      },
      // Healthy once the broker answers and sees the whole quorum's brokers registered.
      healthy: () => kafkaHealthy(host, b.port, undefined, CLUSTER_BROKERS),
      version: async () => kafkaVersion(kp),
    });
  }
  const readClusterId = (): string | undefined => {
    for (const b of layout.brokers) {
      const meta = join(dir, `kafka-${b.id}`, 'kafka', 'data', 'meta.properties');
      const m = existsSync(meta) ? /cluster\.id=(\S+)/.exec(readFileSync(meta, 'utf8')) : null;
      if (m) return m[1];
    }
    return undefined;
  };

  const shardPorts = Array.from({ length: CLUSTER_SHARDS }, (_, s) => layout.clickhouse.filter((c) => c.shard === s + 1).map((c) => c.tcpPort));
  for (const c of layout.clickhouse) {
    const cp = clickhousePaths(join(dir, c.name));
    members.push({
      name: c.name,
      ports: [c.httpPort, c.tcpPort, c.interserverPort],
      endpoint: `http://${host}:${c.httpPort}`,
      pidFile: join(pids, `${c.name}.json`),
      stdout: join(cp.logs, 'stdout.log'),
      log: join(cp.logs, 'clickhouse-server.log'),
      start() {
        const bin = findClickHouse(log);
        writeClickHouseConfig(cp, {
          host,
          httpPort: c.httpPort,
          tcpPort: c.tcpPort,
          modern: bin.modern,
          usersDir: join(root, 'deploy', 'clickhouse', 'users.d'),
          cluster: {
            name: CLUSTER_NAME,
            shards: shardPorts,
            shard: c.shard,
            replica: c.replica,
            interserverPort: c.interserverPort,
            zookeeper: { host, port: layout.zookeeper.port },
          },
        });
        return startDetached({
          name: this.name,
          command: bin.command,
          args: [...bin.prefix, `--config-file=${cp.config}`],
          cwd: cp.home,
          log: this.stdout,
          pidFile: this.pidFile,
        });
      },
      // Healthy once it answers and has its ZooKeeper session (without it, replicated tables are read-only).
      healthy: async () => (await clickhouseHealthy(host, c.httpPort)) && (await clickhouseSeesZooKeeper(host, c.httpPort)),
      version: () => clickhouseVersion(host, c.httpPort),
    });
  }

  async function statusOf(m: Member): Promise<ComponentStatus> {
    const rec = readPid(m.pidFile);
    const running = rec !== undefined && isAlive(rec.pid);
    const healthy = running && (await m.healthy());
    const version = healthy ? await m.version() : undefined;
    return { name: m.name, pid: running ? rec?.pid : undefined, running, healthy, endpoint: m.endpoint, ports: m.ports, log: m.log, version };
  }

  const startAll = async (group: Member[], records: Map<string, PidRecord>): Promise<void> => {
    for (const m of group) {
      const rec = readPid(m.pidFile);
      if (rec && isAlive(rec.pid)) continue;
      for (const port of m.ports) {
        if (await portOpen(host, port))
          throw new AuditstreamError(
            'STACK_PORT_IN_USE',
            `port ${host}:${port} (needed by ${m.name}) is already in use by a process this stack did not start; free it or move the cluster with stack.cluster_base_port`,
          );
      }
      log(`starting ${m.name} on ${m.endpoint}`);
      records.set(m.name, m.start());
    }
    await Promise.all(
      group.map(async (m) => {
        let exited = false;
        const alive = () => {
          const rec = records.get(m.name) ?? readPid(m.pidFile);
          exited = rec === undefined || !isAlive(rec.pid);
          return !exited;
        };
        // A process that exits ends the wait at once (its log says why).
        const ok = (await waitUntil(async () => !alive() || (await m.healthy()), startTimeout)) && !exited;
        if (!ok) {
          const pid = records.get(m.name)?.pid;
          throw new AuditstreamError(
            'STACK_START_FAILED',
            startFailureMessage({ name: m.name, pid, exited, timeoutMs: startTimeout, stdout: m.stdout, log: m.log }),
          );
        }
      }),
    );
  };

  return {
    secure: () => false,
    async status() {
      return Promise.all(members.map(statusOf));
    },
    async up(): Promise<UpResult> {
      mkdirSync(state, { recursive: true });
      const mode = existsSync(join(state, 'stack-mode')) ? readFileSync(join(state, 'stack-mode'), 'utf8').trim() : undefined;
      if (mode && mode !== 'cluster')
        throw new AuditstreamError('STACK_MODE', `${state} holds a ${mode} stack; the cluster needs its own state dir (set AUDITSTREAM_HOME)`, {
          field: 'cluster',
        });
      writeFileSync(join(state, 'stack-mode'), 'cluster\n');
      writeFileSync(clusterLayoutFile(state), `${JSON.stringify(layout, null, 2)}\n`);
      const before = await Promise.all(members.map(statusOf));
      const extra = { secure: false, clientEnv: clusterClientEnv(layout) };
      if (before.every((s) => s.healthy)) return { alreadyRunning: true, started: [], components: before, ...extra };
      const records = new Map<string, PidRecord>();
      try {
        // ZooKeeper and the brokers first: ClickHouse opens its ZooKeeper session as it starts.
        await startAll(
          members.filter((m) => !m.name.startsWith('clickhouse')),
          records,
        );
        await startAll(
          members.filter((m) => m.name.startsWith('clickhouse')),
          records,
        );
      } catch (err) {
        for (const m of members) {
          const rec = records.get(m.name);
          if (rec) await stopProcess(rec, m.pidFile, 5000);
        }
        if (err instanceof AuditstreamError) throw err;
        throw new AuditstreamError('STACK_START_FAILED', `starting the cluster failed: ${(err as Error).message}`, { cause: err });
      }
      return { alreadyRunning: false, started: [...records.keys()], components: await Promise.all(members.map(statusOf)), ...extra };
    },
    async down() {
      // ClickHouse first (it holds ZooKeeper sessions), then the brokers, ZooKeeper last.
      const order = [...members.filter((m) => m.name.startsWith('clickhouse')), ...members.filter((m) => m.name.startsWith('kafka')), members[0] as Member];
      const out: { name: string; result: string }[] = [];
      for (const group of [order.slice(0, -1), [order[order.length - 1] as Member]]) {
        const results = await Promise.all(
          group.map(async (m) => {
            const rec = readPid(m.pidFile);
            return { name: m.name, result: rec ? await stopProcess(rec, m.pidFile, grace) : 'not started by this stack' };
          }),
        );
        out.push(...results);
      }
      return out;
    },
  };
}

/** True when a ClickHouse server has a ZooKeeper session (it can list the root node). */
export async function clickhouseSeesZooKeeper(host: string, httpPort: number): Promise<boolean> {
  try {
    const q = encodeURIComponent("SELECT count() FROM system.zookeeper WHERE path = '/'");
    const res = await httpGet(`http://${host}:${httpPort}/?query=${q}`, 3000);
    return res.status === 200 && Number(res.body.trim()) > 0;
  } catch {
    return false;
  }
}

/** True when the state dir holds (or held) a cluster stack. */
export const isClusterState = (stateDir: string) =>
  existsSync(join(stateDir, 'stack-mode')) && readFileSync(join(stateDir, 'stack-mode'), 'utf8').trim() === 'cluster';
