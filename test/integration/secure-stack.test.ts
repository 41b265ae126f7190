import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { configSchema, loadConfig } from '@auditstream/config';
import { uniqueName, uuidv7 } from '@auditstream/core';
import { generateSigningKey } from '@auditstream/integrity';
import { createKafkaClient } from '@auditstream/kafka';
import { createAuditProducer, type PublishInput } from '@auditstream/producer';
import { waitFor } from '@auditstream/test';
import { Kafka, type KafkaConfig, logLevel } from 'kafkajs';
import { type Flow, httpsGet, type SecureStack, startSecureServices, startSecureStack } from '../helpers/secure-flow.js';

// Encryption in transit: `stack up --secure` (Kafka SASL_SSL + SCRAM-SHA-512 only,
// ClickHouse HTTPS only) and one complete flow over it — SDK publish → ingest → query API over
// HTTPS, and publish → alerting → alerts topic + HTTPS webhook verified against the stack's CA —
// while plaintext clients are refused by Kafka (both listeners) and by ClickHouse.

let s: SecureStack;
let flow: Flow;
let workDir: string;
const id = uniqueName('secure');
const tenant = id;

before(async () => {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
  workDir = mkdtempSync(join(tmpdir(), 'auditstream-secure-flow-'));
  s = await startSecureStack();
  flow = await startSecureServices(s, {
    id,
    workDir,
    webhookSecret: `whsec-${uuidv7()}`,
    cursorSecret: `cursor-${uuidv7()}-${uuidv7()}`,
    signingKey: generateSigningKey(),
  });
});

after(async () => {
  await flow?.stop();
  await s?.down();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

const ACTOR = 'mallory';
function events(): PublishInput[] {
  const out: PublishInput[] = [];
  for (let i = 0; i < 8; i++) {
    out.push({
      tenant_id: tenant,
      actor: { id: ACTOR, type: 'user', ip: '203.0.113.7' },
      action: 'auth.login',
      category: 'authentication',
      outcome: 'failure',
      service: 'secure-test',
      resource: { type: 'session', id: `s-${i}`, name: null },
    } as PublishInput);
  }
  for (let i = 0; i < 4; i++) {
    out.push({
      tenant_id: tenant,
      actor: { id: `user-${i}`, type: 'user' },
      action: 'document.read',
      category: 'resource_access',
      outcome: 'success',
      service: 'secure-test',
      resource: { type: 'document', id: `doc-${i}`, name: null },
    } as PublishInput);
  }
  return out;
}

/** waitFor(), with the tail of every child's output on timeout. */
function untilFlow<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  return waitFor(what, fn, timeoutMs, {
    everyMs: 500,
    retryOnError: true,
    detail: () => flow.children.map((c) => `--- ${c.name}\n${c.output().slice(-1500)}`).join('\n'),
  });
}

test('publish → ingest → query over HTTPS, and publish → alert (topic + HTTPS webhook), all on the secure stack', async () => {
  const cfg = loadConfig(configSchema, { env: flow.env.common });
  assert.equal(cfg.kafka.ssl, true);
  assert.equal(cfg.kafka.sasl_mechanism, 'scram-sha-512');
  const kafka = createKafkaClient(cfg.kafka, { component: 'secure-test' });
  const producer = createAuditProducer({ kafka, topic: cfg.topics.events });
  await producer.connect();
  const published = events();
  try {
    await producer.publishMany(published);
  } finally {
    await producer.close();
  }

  // Query: the API over HTTPS (its certificate checked against the stack's CA), reading ClickHouse over HTTPS.
  const ca = readFileSync(s.caFile);
  const from = new Date(Date.now() - 3_600_000).toISOString();
  const to = new Date(Date.now() + 3_600_000).toISOString();
  const url = `${flow.apiUrl}/v1/events?from=${from}&to=${to}&tenant=${tenant}&limit=100`;
  const rows = await untilFlow(
    'the published events through the API',
    async () => {
      const res = await httpsGet(url, ca, { authorization: `Bearer ${flow.apiKey}` });
      assert.equal(res.status, 200, res.body.slice(0, 300));
      // The API records each read as an audit event of the tenant too: keep the published ones.
      const body = JSON.parse(res.body) as { data: { event_id: string; action: string; service: string }[] };
      const mine = body.data.filter((e) => e.service === 'secure-test');
      return mine.length >= published.length ? mine : undefined;
    },
    90_000,
  );
  assert.equal(rows.length, published.length);
  assert.equal(rows.filter((r) => r.action === 'auth.login').length, 8);

  // Alert: the brute-force rule fires once for the actor; the webhook got it over HTTPS, signed.
  const delivery = await untilFlow(
    'the brute-force alert at the HTTPS webhook',
    async () => flow.webhook.deliveries.find((d) => d.body.includes('brute_force')),
    60_000,
  );
  assert.equal(delivery.signatureValid, true);
  const alert = (JSON.parse(delivery.body) as { alert: { alert_id: string; tenant_id: string } }).alert;
  assert.equal(alert.tenant_id, tenant);

  // …and on the alerts topic, read back over SASL_SSL.
  const consumer = kafka.consumer({ groupId: `${id}-reader` });
  const keys: string[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: cfg.topics.alerts, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        if (message.key) keys.push(message.key.toString());
      },
    });
    await untilFlow('the alert on the alerts topic', async () => (keys.includes(alert.alert_id) ? true : undefined), 30_000);
  } finally {
    await consumer.disconnect();
  }

  // The API refuses a client that does not trust its CA.
  await assert.rejects(httpsGet(`${flow.apiUrl}/healthz`, undefined), /self-signed|unable to verify|certificate/i);
});

test('Kafka refuses plaintext clients on both listeners, and a wrong SCRAM password', async () => {
  // Probes are bare kafkajs clients without retries (createKafkaClient retries a refused connect for ~30 s).
  const ca = [readFileSync(s.caFile, 'utf8')];
  const tryAdmin = async (config: Pick<KafkaConfig, 'brokers' | 'ssl' | 'sasl'>) => {
    const kafka = new Kafka({
      clientId: 'secure-probe',
      connectionTimeout: 2000,
      requestTimeout: 3000,
      retry: { retries: 0 },
      logLevel: logLevel.NOTHING,
      ...config,
    });
    const admin = kafka.admin({ retry: { retries: 0 } });
    try {
      await admin.connect();
      await admin.listTopics();
    } finally {
      await admin.disconnect().catch(() => {});
    }
  };
  // Plaintext, to the client listener (SASL_SSL) and to the controller listener (TLS with client certificates).
  await assert.rejects(tryAdmin({ brokers: [`127.0.0.1:${s.ports.kafka}`] }), /Closed connection|ECONNRESET|Connection/i);
  await assert.rejects(tryAdmin({ brokers: [`127.0.0.1:${s.ports.controller}`] }), /Closed connection|ECONNRESET|Connection/i);
  // TLS but no client certificate, to the controller listener.
  await assert.rejects(tryAdmin({ brokers: [`127.0.0.1:${s.ports.controller}`], ssl: { ca } }), /certificate|Closed connection|Connection/i);
  // TLS without SASL, to the client listener.
  await assert.rejects(tryAdmin({ brokers: [`127.0.0.1:${s.ports.kafka}`], ssl: { ca } }));
  // TLS + SCRAM with a wrong password.
  const sasl = (password: string) => ({ mechanism: 'scram-sha-512' as const, username: 'auditstream', password });
  await assert.rejects(tryAdmin({ brokers: [`127.0.0.1:${s.ports.kafka}`], ssl: { ca }, sasl: sasl('not-the-password') }), /SASL|authentication/i);
  // The right settings work (so the refusals above are about security, not a dead broker).
  await tryAdmin({ brokers: [`127.0.0.1:${s.ports.kafka}`], ssl: { ca }, sasl: sasl(s.password('kafka-client')) });
});

test('ClickHouse refuses plaintext HTTP, serves only HTTPS, and requires the password', async () => {
  const plain = await new Promise<string>((resolve) => {
    const req = httpRequest(`http://127.0.0.1:${s.ports.clickhouse}/ping`, { timeout: 3000 }, (res) => {
      res.resume();
      resolve(`answered ${res.statusCode}`);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve(`refused: ${(e as NodeJS.ErrnoException).code ?? e.message}`));
    req.end();
  });
  assert.match(plain, /^refused/);
  const ca = readFileSync(s.caFile);
  assert.equal((await httpsGet(`https://127.0.0.1:${s.ports.clickhouse}/ping`, ca)).body.trim(), 'Ok.');
  const q = `https://127.0.0.1:${s.ports.clickhouse}/?query=${encodeURIComponent('SELECT 1')}`;
  const noPassword = await httpsGet(q, ca);
  assert.notEqual(noPassword.status, 200);
  const wrong = await httpsGet(q, ca, { authorization: `Basic ${Buffer.from('auditstream_reader:wrong').toString('base64')}` });
  assert.notEqual(wrong.status, 200);
  const right = await httpsGet(q, ca, { authorization: `Basic ${Buffer.from(`auditstream_reader:${s.password('clickhouse-reader')}`).toString('base64')}` });
  assert.equal(right.status, 200);
  // No native-protocol port: the stack reports only the HTTPS port.
  const ch = (await s.stack.status()).find((c) => c.name === 'clickhouse');
  assert.deepEqual(ch?.ports, [s.ports.clickhouse]);
  assert.equal(ch?.healthy, true);
  assert.match(ch?.endpoint ?? '', /^https:/);
});
