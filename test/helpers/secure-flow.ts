/**
 * The secure local stack (`stack up --secure`) on a private state dir and free ports, and the
 * real services as CLI child processes configured only through AUDITSTREAM_* variables — the
 * way an operator runs them. Every child's stdout/stderr is kept, so the secret-leak test can
 * grep all of it.
 */
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest, createServer as httpsServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '@auditstream/core';
import { createStack, type Stack, secretFile, tlsPaths } from '@auditstream/stack';
import { type Child, freePort, runCli, spawnCli } from '@auditstream/test';

export interface SecureStack {
  stack: Stack;
  stateDir: string;
  ports: { kafka: number; controller: number; clickhouse: number };
  /** The stack's client settings (TLS, SCRAM, https), file paths only. */
  clientEnv: Record<string, string>;
  caFile: string;
  serverCert: string;
  serverKey: string;
  /** A generated password, read from its 0600 file. */
  password(name: Parameters<typeof secretFile>[1]): string;
  down(): Promise<void>;
}

export async function startSecureStack(): Promise<SecureStack> {
  const stateDir = mkdtempSync(join(tmpdir(), 'auditstream-secure-'));
  const ports = { kafka: await freePort(), controller: await freePort(), clickhouse: await freePort() };
  const stack = createStack({
    stateDir,
    secure: true,
    kafkaPort: ports.kafka,
    kafkaControllerPort: ports.controller,
    clickhouseHttpPort: ports.clickhouse,
    clickhouseTcpPort: await freePort(),
    stopGraceMs: 20_000,
    startTimeoutMs: 120_000,
  });
  const up = await stack.up();
  if (!up.clientEnv) throw new Error('stack up --secure returned no client settings');
  const tls = tlsPaths(stateDir);
  return {
    stack,
    stateDir,
    ports,
    clientEnv: up.clientEnv,
    caFile: tls.caCert,
    serverCert: tls.serverCert,
    serverKey: tls.serverKey,
    password: (name) => readFileSync(secretFile(stateDir, name), 'utf8').trim(),
    async down() {
      await stack.down();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

export type { Captured, Child } from '@auditstream/test';
export { runCli, spawnCli };

export interface WebhookDelivery {
  headers: Record<string, string | string[] | undefined>;
  body: string;
  signatureValid: boolean;
}

/** A local HTTPS webhook receiver with the stack's server certificate; checks each HMAC signature. */
export async function startWebhookReceiver(
  certFile: string,
  keyFile: string,
  secret: string,
): Promise<{ url: string; deliveries: WebhookDelivery[]; close(): Promise<void> }> {
  const deliveries: WebhookDelivery[] = [];
  const server: Server = httpsServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const want = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
      deliveries.push({ headers: req.headers, body: body.toString('utf8'), signatureValid: req.headers['x-auditstream-signature'] === want });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `https://127.0.0.1:${port}/hook`,
    deliveries,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** GET over https verifying the server against `ca`; resolves with status and body. */
export function httpsGet(url: string, ca: Buffer | undefined, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method: 'GET', headers, ...(ca ? { ca } : {}), timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** Writes a secret to a fresh 0600 file and returns its path. */
export function secretToFile(dir: string, name: string, value: string): string {
  const file = join(dir, name);
  writeFileSync(file, `${value}\n`, { mode: 0o600 });
  return file;
}

export interface FlowOptions {
  /** Values written to the secret files the services read (test-chosen, so they can be grepped). */
  webhookSecret: string;
  cursorSecret: string;
  /** Extra variables for every service (e.g. a field-encryption master key file). */
  extraEnv?: Record<string, string>;
  /** Work dir for secret files and the signing key. */
  workDir: string;
  /** Ed25519 signing key PEM for ingest (integrity); the public PEM for the API's verifier. */
  signingKey: { privatePem: string; publicPem: string };
  id: string;
}

export interface Flow {
  children: Child[];
  env: { common: Record<string, string>; ingest: Record<string, string>; alerting: Record<string, string>; api: Record<string, string> };
  apiUrl: string;
  apiKey: string;
  /** Output of one-shot commands (topics create, migrate, apikey create). */
  commands: { name: string; output: string }[];
  webhook: Awaited<ReturnType<typeof startWebhookReceiver>>;
  stop(): Promise<void>;
}

/**
 * Creates topics and schema, an API key, then starts ingest, alerting (webhook over HTTPS verified
 * against the stack's CA) and the API (HTTPS with the stack's certificate), each as `auditstream …`
 * with the least-privileged ClickHouse account it needs.
 */
export async function startSecureServices(s: SecureStack, o: FlowOptions): Promise<Flow> {
  const webhookSecretFile = secretToFile(o.workDir, 'webhook.secret', o.webhookSecret);
  const cursorSecretFile = secretToFile(o.workDir, 'cursor.secret', o.cursorSecret);
  const signingKeyFile = secretToFile(o.workDir, 'signing.pem', o.signingKey.privatePem);
  const publicKeyFile = join(o.workDir, 'signing.pub.pem');
  writeFileSync(publicKeyFile, o.signingKey.publicPem);
  const webhook = await startWebhookReceiver(s.serverCert, s.serverKey, o.webhookSecret);
  const account = (role: 'ingest' | 'reader' | 'admin') => ({
    AUDITSTREAM_CLICKHOUSE__USERNAME: `auditstream_${role}`,
    AUDITSTREAM_CLICKHOUSE__PASSWORD_FILE: secretFile(s.stateDir, `clickhouse-${role}`),
  });
  const common: Record<string, string> = {
    ...s.clientEnv,
    AUDITSTREAM_HOME: s.stateDir,
    AUDITSTREAM_STACK__KAFKA_CONTROLLER_PORT: String(s.ports.controller),
    AUDITSTREAM_TOPICS__EVENTS: `${o.id}.events`,
    AUDITSTREAM_TOPICS__DLQ: `${o.id}.dlq`,
    AUDITSTREAM_TOPICS__ALERTS: `${o.id}.alerts`,
    AUDITSTREAM_TOPICS__CHECKPOINTS: `${o.id}.checkpoints`,
    AUDITSTREAM_TOPICS__PARTITIONS: '2',
    AUDITSTREAM_INGEST__GROUP_ID: `${o.id}-ingest`,
    AUDITSTREAM_INTEGRITY__PUBLIC_KEY_FILES: publicKeyFile,
    AUDITSTREAM_LOG__LEVEL: 'info',
    ...o.extraEnv,
  };
  const apiPort = await freePort();
  const env = {
    common,
    ingest: {
      ...common,
      ...account('ingest'),
      AUDITSTREAM_INGEST__METRICS_PORT: '0',
      AUDITSTREAM_INGEST__BATCH_MAX_AGE_MS: '200',
      AUDITSTREAM_INTEGRITY__SIGNING_KEY_FILE: signingKeyFile,
    },
    alerting: {
      ...common,
      AUDITSTREAM_ALERTING__METRICS_PORT: '0',
      AUDITSTREAM_ALERTING__CONSUMER_GROUP: `${o.id}-alerting`,
      AUDITSTREAM_ALERTING__START_FROM: 'earliest',
      AUDITSTREAM_ALERTING__WATCH_RULES: 'false',
      AUDITSTREAM_ALERTING__RULES_FILE: join(repoRoot(), 'deploy', 'rules', 'default.yaml'),
      AUDITSTREAM_ALERTING__SINKS__WEBHOOK__ENABLED: 'true',
      AUDITSTREAM_ALERTING__SINKS__WEBHOOK__URL: webhook.url,
      AUDITSTREAM_ALERTING__SINKS__WEBHOOK__SECRET_FILE: webhookSecretFile,
      AUDITSTREAM_ALERTING__SINKS__WEBHOOK__CA_FILE: s.caFile,
    },
    api: {
      ...common,
      ...account('reader'),
      AUDITSTREAM_API__PORT: String(apiPort),
      AUDITSTREAM_API__TLS_CERT_FILE: s.serverCert,
      AUDITSTREAM_API__TLS_KEY_FILE: s.serverKey,
      AUDITSTREAM_API__CURSOR_SECRET_FILE: cursorSecretFile,
    },
  };
  const commands: { name: string; output: string }[] = [];
  for (const [name, args] of [
    ['topics', ['topics', 'create']],
    ['migrate', ['migrate']],
  ] as const) {
    const r = await runCli(name, [...args], { ...common, ...account('admin') });
    commands.push({ name, output: r.output });
    if (r.code !== 0) throw new Error(`auditstream ${args.join(' ')} failed (${r.code}):\n${r.output.slice(-2000)}`);
  }
  const key = await runCli('apikey', ['apikey', 'create', '--role', 'admin'], { ...common, ...account('admin') });
  if (key.code !== 0) throw new Error(`auditstream apikey create failed:\n${key.output.slice(-2000)}`);
  // The key is printed by design, alone on the last line: that output is the one place it may appear.
  const apiKey = key.output.trim().split('\n').at(-1) as string;
  commands.push({ name: 'apikey', output: key.output.replace(apiKey, '[the printed key]') });

  const children = [spawnCli('ingest', ['ingest'], env.ingest), spawnCli('alerting', ['alerting'], env.alerting), spawnCli('api', ['api'], env.api)];
  const api = children[2] as Child;
  const m = await api.waitFor(/"url":"(https:\/\/[^"]+)"[^\n]*query API listening/, 60_000);
  return {
    children,
    env,
    apiUrl: m[1] as string,
    apiKey,
    commands,
    webhook,
    async stop() {
      for (const c of [...children].reverse()) await c.stop();
      await webhook.close();
    },
  };
}
