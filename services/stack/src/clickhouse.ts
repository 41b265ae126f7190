import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { aptInstall, which } from './tools.js';

export interface ClickHousePaths {
  home: string;
  data: string;
  logs: string;
  config: string;
  users: string;
  usersD: string;
}

export function clickhousePaths(stateDir: string): ClickHousePaths {
  const home = join(stateDir, 'clickhouse');
  return {
    home,
    data: join(home, 'data'),
    logs: join(home, 'logs'),
    config: join(home, 'config.xml'),
    users: join(home, 'users.xml'),
    usersD: join(home, 'users.d'),
  };
}

export interface ClickHouseBinary {
  command: string;
  /** Arguments before --config-file (`server` for the single modern binary). */
  prefix: string[];
  /** True for servers new enough for SQL-driven access management. */
  modern: boolean;
}

/**
 * Order: the modern single binary `clickhouse`, then `clickhouse-server`, then (as root
 * on Debian) Debian's clickhouse-server package, which is ClickHouse 18.16.
 */
export function findClickHouse(log: (msg: string) => void): ClickHouseBinary {
  const single = which('clickhouse');
  if (single) return { command: single, prefix: ['server'], modern: true };
  let server = which('clickhouse-server') ?? (existsSync('/usr/sbin/clickhouse-server') ? '/usr/sbin/clickhouse-server' : undefined);
  if (!server) {
    aptInstall(['clickhouse-server', 'clickhouse-client'], 'ClickHouse (no `clickhouse` or `clickhouse-server` on PATH)', log);
    server = which('clickhouse-server') ?? '/usr/sbin/clickhouse-server';
  }
  // Old servers (Debian's 18.16) do not know --version; modern ones print it.
  const probe = spawnSync(server, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  return { command: server, prefix: [], modern: probe.status === 0 };
}

/** The secure stack's ClickHouse: HTTPS only, a password on `default`, generated service-account passwords. */
export interface ClickHouseSecureConfig {
  certFile: string;
  keyFile: string;
  defaultPasswordSha256: string;
  /** users.d fragment replacing deploy/clickhouse/users.d (whose passwords are development ones). */
  usersFragment: string;
}

/**
 * The listener part of config.xml. Plain: HTTP and native TCP. Secure: only https_port, with
 * TLS 1.2+ (no plaintext HTTP, no native TCP port), the server certificate from the stack's CA.
 */
export function clickhouseListenerXml(opts: { httpPort: number; tcpPort: number; secure?: ClickHouseSecureConfig | undefined }): string {
  if (!opts.secure) return `  <http_port>${opts.httpPort}</http_port>\n  <tcp_port>${opts.tcpPort}</tcp_port>`;
  return `  <https_port>${opts.httpPort}</https_port>
  <openSSL>
    <server>
      <certificateFile>${opts.secure.certFile}</certificateFile>
      <privateKeyFile>${opts.secure.keyFile}</privateKeyFile>
      <verificationMode>none</verificationMode>
      <loadDefaultCAFile>false</loadDefaultCAFile>
      <cacheSessions>true</cacheSessions>
      <disableProtocols>sslv2,sslv3,tlsv1,tlsv1_1</disableProtocols>
      <preferServerCiphers>true</preferServerCiphers>
    </server>
  </openSSL>`;
}

/** One server of the local ClickHouse cluster: where the others and ZooKeeper are, and who it is. */
export interface ClickHouseClusterMember {
  /** Name of the cluster in remote_servers (what `clickhouse.cluster` names). */
  name: string;
  /** Native-protocol ports of every server, shard by shard: shards[s][r]. */
  shards: number[][];
  shard: number;
  replica: string;
  interserverPort: number;
  zookeeper: { host: string; port: number };
}

/**
 * The cluster part of config.xml: remote_servers (internal_replication, so a Distributed table
 * writes each block to one replica and replication copies it), ZooKeeper, the {shard}/{replica}
 * macros the Replicated engines name their ZooKeeper paths with, and the distributed DDL queue
 * that runs `ON CLUSTER` statements on every server.
 */
export function clickhouseClusterXml(host: string, m: ClickHouseClusterMember): string {
  const shards = m.shards
    .map(
      (ports) =>
        `      <shard>\n        <internal_replication>true</internal_replication>\n${ports
          .map((p) => `        <replica><host>${host}</host><port>${p}</port></replica>`)
          .join('\n')}\n      </shard>`,
    )
    .join('\n');
  return `  <remote_servers>
    <${m.name}>
${shards}
    </${m.name}>
  </remote_servers>
  <zookeeper>
    <node><host>${m.zookeeper.host}</host><port>${m.zookeeper.port}</port></node>
    <session_timeout_ms>30000</session_timeout_ms>
  </zookeeper>
  <macros>
    <cluster>${m.name}</cluster>
    <shard>${String(m.shard).padStart(2, '0')}</shard>
    <replica>${m.replica}</replica>
  </macros>
  <distributed_ddl>
    <path>/clickhouse/task_queue/ddl</path>
  </distributed_ddl>
  <interserver_http_host>${host}</interserver_http_host>
  <interserver_http_port>${m.interserverPort}</interserver_http_port>`;
}

export function writeClickHouseConfig(
  paths: ClickHousePaths,
  opts: {
    host: string;
    httpPort: number;
    tcpPort: number;
    modern: boolean;
    usersDir: string;
    secure?: ClickHouseSecureConfig | undefined;
    cluster?: ClickHouseClusterMember | undefined;
  },
): void {
  for (const d of [paths.data, paths.logs, paths.usersD, join(paths.data, 'tmp'), join(paths.data, 'user_files'), join(paths.data, 'format_schemas')]) {
    mkdirSync(d, { recursive: true });
  }
  // <yandex> is the root element every version accepts (newer ones also take <clickhouse>).
  const config = `<?xml version="1.0"?>
<!-- Generated by \`auditstream stack up\`; edits are overwritten. -->
<yandex>
  <logger>
    <level>information</level>
    <log>${paths.logs}/clickhouse-server.log</log>
    <errorlog>${paths.logs}/clickhouse-server.err.log</errorlog>
    <size>100M</size>
    <count>3</count>
  </logger>
  <listen_host>${opts.host}</listen_host>
${clickhouseListenerXml(opts)}
  <path>${paths.data}/</path>
  <tmp_path>${paths.data}/tmp/</tmp_path>
  <user_files_path>${paths.data}/user_files/</user_files_path>
  <format_schema_path>${paths.data}/format_schemas/</format_schema_path>
  <users_config>${paths.users}</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>268435456</mark_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
  <max_connections>1024</max_connections>
  <keep_alive_timeout>10</keep_alive_timeout>
${opts.cluster ? clickhouseClusterXml(opts.host, opts.cluster) : ''}
</yandex>
`;
  writeFileSync(paths.config, config);
  // The default user is for local administration only: loopback, no password.
  const users = `<?xml version="1.0"?>
<!-- Generated by \`auditstream stack up\`. Service accounts come from users.d/ (copied from deploy/clickhouse/users.d). -->
<yandex>
  <profiles>
    <default>
      <max_memory_usage>4000000000</max_memory_usage>
      <load_balancing>random</load_balancing>
    </default>
  </profiles>
  <users>
    <default>
      ${opts.secure ? `<password_sha256_hex>${opts.secure.defaultPasswordSha256}</password_sha256_hex>` : '<password></password>'}
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>${opts.modern ? '\n      <access_management>1</access_management>' : ''}
    </default>
  </users>
  <quotas>
    <default>
      <interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval>
    </default>
  </quotas>
</yandex>
`;
  writeFileSync(paths.users, users, { mode: 0o600 });
  if (opts.secure) {
    rmSync(paths.usersD, { recursive: true, force: true });
    mkdirSync(paths.usersD, { recursive: true });
    writeFileSync(join(paths.usersD, 'auditstream.xml'), opts.secure.usersFragment, { mode: 0o600 });
    return;
  }
  if (existsSync(opts.usersDir)) {
    for (const f of readdirSync(opts.usersDir).filter((n) => n.endsWith('.xml'))) copyFileSync(join(opts.usersDir, f), join(paths.usersD, f));
  }
}

/** How the stack's own checks reach an HTTPS-only ClickHouse. */
export interface ClickHouseClientSecurity {
  ca: Buffer;
  username: string;
  password: string;
}

/** GET over http or https (with the stack's CA); node:https because fetch takes no CA. */
export function httpGet(url: string, timeoutMs: number, security?: ClickHouseClientSecurity): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const headers: Record<string, string> = security
      ? { authorization: `Basic ${Buffer.from(`${security.username}:${security.password}`).toString('base64')}` }
      : {};
    const opts = { method: 'GET', headers, timeout: timeoutMs, ...(security ? { ca: security.ca } : {}) };
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(u, opts, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

const base = (host: string, port: number, security?: ClickHouseClientSecurity) => `${security ? 'https' : 'http'}://${host}:${port}`;

export async function clickhouseHealthy(host: string, httpPort: number, security?: ClickHouseClientSecurity): Promise<boolean> {
  try {
    const res = await httpGet(`${base(host, httpPort, security)}/ping`, 2000, security);
    return res.status === 200 && res.body.trim() === 'Ok.';
  } catch {
    return false;
  }
}

export async function clickhouseVersion(host: string, httpPort: number, security?: ClickHouseClientSecurity): Promise<string | undefined> {
  try {
    const res = await httpGet(`${base(host, httpPort, security)}/?query=${encodeURIComponent('SELECT version()')}`, 2000, security);
    return res.status === 200 ? res.body.trim() : undefined;
  } catch {
    return undefined;
  }
}
