import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { configSchema, loadConfig } from '@auditstream/config';
import { uniqueName, uuidv7 } from '@auditstream/core';
import { generateSigningKey } from '@auditstream/integrity';
import { createKafkaClient } from '@auditstream/kafka';
import { createAuditProducer, type PublishInput } from '@auditstream/producer';
import { waitFor } from '@auditstream/test';
import { type Flow, httpsGet, runCli, type SecureStack, startSecureServices, startSecureStack } from '../helpers/secure-flow.js';

// Secrets: a full run on the secure stack — ingest, alerting and the API as child
// processes, each given its secrets through *_file variants — plus error paths (wrong Kafka and
// ClickHouse passwords, a wrong API key, bad requests, an invalid secret in the config), then every
// captured stdout/stderr and the stack's log files are searched for each known secret, raw and
// base64/base64url/hex encoded. One hit fails the test, naming the secret and where it was found.

let s: SecureStack;
let flow: Flow;
let workDir: string;
const id = uniqueName('leak');
const tenant = id;
const extraOutputs: { name: string; output: string }[] = [];

const webhookSecret = `leak-webhook-${uuidv7()}`;
const cursorSecret = `leak-cursor-${uuidv7()}-${uuidv7()}`;
const wrongKafkaPassword = `leak-wrong-kafka-${uuidv7()}`;
const wrongClickHousePassword = `leak-wrong-ch-${uuidv7()}`;
const wrongApiKey = `leak-wrong-apikey-${uuidv7()}`;
const shortCursorSecret = `short-${randomBytes(10).toString('hex')}`; // 26 characters: rejected (min 32)
const masterKey = randomBytes(32);
const signingKey = generateSigningKey();

before(async () => {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
  workDir = mkdtempSync(join(tmpdir(), 'auditstream-leak-'));
  const masterKeyFile = join(workDir, 'master.key');
  writeFileSync(masterKeyFile, `${masterKey.toString('hex')}\n`, { mode: 0o600 });
  s = await startSecureStack();
  flow = await startSecureServices(s, {
    id,
    workDir,
    webhookSecret,
    cursorSecret,
    signingKey,
    extraEnv: { AUDITSTREAM_ENCRYPTION__ENABLED: 'true', AUDITSTREAM_ENCRYPTION__MASTER_KEY_FILE: masterKeyFile },
  });
});

after(async () => {
  await flow?.stop();
  await s?.down();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

/** The forms a secret could leak in: as is, and its bytes as base64, base64url and hex. */
function secretForms(secret: string | Buffer): string[] {
  const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret;
  const forms = new Set([bytes.toString('base64').replace(/=+$/, ''), bytes.toString('base64url'), bytes.toString('hex')]);
  if (typeof secret === 'string') forms.add(secret);
  return [...forms].filter((f) => f.length >= 16);
}

/** The base64 body of a PEM (what a logged key object would show), and the raw Ed25519 seed. */
function pemForms(pem: string): string[] {
  const body = pem
    .split('\n')
    .filter((l) => l && !l.startsWith('-----'))
    .join('');
  const der = Buffer.from(body, 'base64');
  return [body, ...secretForms(der.subarray(der.length - 32))];
}

function logFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...logFiles(p));
    else if (/\.log(\.\d+)?$|\.err\.log$/.test(name)) out.push(p);
  }
  return out;
}

const ACTOR = 'leak-victim';
function events(): PublishInput[] {
  return Array.from(
    { length: 8 },
    (_, i) =>
      ({
        tenant_id: tenant,
        actor: { id: ACTOR, type: 'user', name: 'Leak Victim', ip: '198.51.100.9' },
        action: 'auth.login',
        category: 'authentication',
        outcome: 'failure',
        service: 'leak-test',
        resource: { type: 'session', id: `s-${i}`, name: null },
      }) as PublishInput,
  );
}

test('no secret appears in any output or log of a full run with error paths', async () => {
  const ca = readFileSync(s.caFile);
  const cfg = loadConfig(configSchema, { env: flow.env.common });
  const producer = createAuditProducer({ kafka: createKafkaClient(cfg.kafka, { component: 'leak-test' }), topic: cfg.topics.events });
  await producer.connect();
  try {
    await producer.publishMany(events());
  } finally {
    await producer.close();
  }

  // The happy path: stored, queryable over HTTPS, alert delivered to the HTTPS webhook.
  const from = new Date(Date.now() - 3_600_000).toISOString();
  const to = new Date(Date.now() + 3_600_000).toISOString();
  const auth = { authorization: `Bearer ${flow.apiKey}` };
  await waitFor(
    'the events through the API',
    async () => {
      const res = await httpsGet(`${flow.apiUrl}/v1/events?from=${from}&to=${to}&tenant=${tenant}&limit=100`, ca, auth);
      assert.equal(res.status, 200, res.body.slice(0, 300));
      const data = (JSON.parse(res.body) as { data: { service: string }[] }).data.filter((e) => e.service === 'leak-test');
      return data.length >= 8 ? data : undefined;
    },
    90_000,
    { everyMs: 500, retryOnError: true },
  );
  await waitFor('the webhook delivery', async () => flow.webhook.deliveries.find((d) => d.signatureValid), 60_000, { everyMs: 500, retryOnError: true });

  // Error paths. The API: a wrong key, a bad parameter, a forged cursor.
  assert.equal((await httpsGet(`${flow.apiUrl}/v1/events?from=${from}&to=${to}`, ca, { authorization: `Bearer ${wrongApiKey}` })).status, 401);
  assert.equal((await httpsGet(`${flow.apiUrl}/v1/events?from=yesterday&to=${to}`, ca, auth)).status, 400);
  assert.equal((await httpsGet(`${flow.apiUrl}/v1/events?from=${from}&to=${to}&cursor=${cursorSecret.slice(0, 20)}`, ca, auth)).status, 400);

  // A wrong Kafka password (given directly, not as a file), a wrong ClickHouse password, a too-short cursor secret.
  const { AUDITSTREAM_KAFKA__SASL_PASSWORD_FILE: _k, ...noKafkaFile } = flow.env.common;
  const badKafka = await runCli(
    'topics-wrong-password',
    ['topics', 'create'],
    { ...noKafkaFile, AUDITSTREAM_KAFKA__SASL_PASSWORD: wrongKafkaPassword },
    90_000,
  );
  assert.notEqual(badKafka.code, 0, 'topics create with a wrong SASL password must fail');
  const { AUDITSTREAM_CLICKHOUSE__PASSWORD_FILE: _c, ...noChFile } = flow.env.common;
  const badCh = await runCli('migrate-wrong-password', ['migrate'], { ...noChFile, AUDITSTREAM_CLICKHOUSE__PASSWORD: wrongClickHousePassword });
  assert.notEqual(badCh.code, 0, 'migrate with a wrong ClickHouse password must fail');
  assert.match(badCh.output, /credentials|password|authenticat/i);
  const { AUDITSTREAM_API__CURSOR_SECRET_FILE: _s, ...noCursorFile } = flow.env.api;
  const badConfig = await runCli('api-short-secret', ['api'], { ...noCursorFile, AUDITSTREAM_API__CURSOR_SECRET: shortCursorSecret });
  assert.notEqual(badConfig.code, 0);
  assert.match(badConfig.output, /api\.cursor_secret/);
  extraOutputs.push(
    { name: badKafka.child.name, output: badKafka.output },
    { name: badCh.child.name, output: badCh.output },
    { name: badConfig.child.name, output: badConfig.output },
  );

  // Stop the services so their shutdown logs are in too.
  await flow.stop();

  const secrets: Record<string, string[]> = {
    'kafka SCRAM password (client)': secretForms(s.password('kafka-client')),
    'kafka SCRAM password (broker)': secretForms(s.password('kafka-broker')),
    'wrong kafka password': secretForms(wrongKafkaPassword),
    'clickhouse default password': secretForms(s.password('clickhouse-default')),
    'clickhouse admin password': [...secretForms(s.password('clickhouse-admin')), ...secretForms(`auditstream_admin:${s.password('clickhouse-admin')}`)],
    'clickhouse ingest password': [...secretForms(s.password('clickhouse-ingest')), ...secretForms(`auditstream_ingest:${s.password('clickhouse-ingest')}`)],
    'clickhouse reader password': [...secretForms(s.password('clickhouse-reader')), ...secretForms(`auditstream_reader:${s.password('clickhouse-reader')}`)],
    'wrong clickhouse password': [...secretForms(wrongClickHousePassword), ...secretForms(`auditstream_admin:${wrongClickHousePassword}`)],
    'API key': secretForms(flow.apiKey),
    'wrong API key': secretForms(wrongApiKey),
    'webhook HMAC secret': secretForms(webhookSecret),
    'cursor secret': secretForms(cursorSecret),
    'too-short cursor secret': secretForms(shortCursorSecret),
    'integrity signing key': pemForms(signingKey.privatePem),
    'field-encryption master key': secretForms(masterKey),
    'CA private key': pemForms(readFileSync(join(s.stateDir, 'tls', 'ca.key'), 'utf8')).slice(0, 1),
    'server private key': pemForms(readFileSync(s.serverKey, 'utf8')).slice(0, 1),
  };

  const sources: { name: string; text: string }[] = [
    ...flow.children.map((c) => ({ name: `${c.name} (stdout+stderr)`, text: c.output() })),
    ...flow.commands.map((c) => ({ name: `auditstream ${c.name}`, text: c.output })),
    ...extraOutputs.map((c) => ({ name: c.name, text: c.output })),
    ...logFiles(s.stateDir).map((f) => ({ name: f, text: readFileSync(f, 'utf8') })),
  ];
  assert.ok(sources.length >= 8, `expected the outputs of the services, the commands and the stack logs, got ${sources.length}`);
  // The sources are not empty: the services logged, the stack's servers logged.
  for (const c of flow.children) assert.ok(c.output().length > 200, `${c.name} logged almost nothing`);
  assert.ok(existsSync(join(s.stateDir, 'kafka', 'logs', 'server.log')));

  const hits: string[] = [];
  for (const [what, forms] of Object.entries(secrets)) {
    for (const form of forms) {
      for (const src of sources) {
        const at = src.text.indexOf(form);
        if (at >= 0) hits.push(`${what} in ${src.name}: …${src.text.slice(Math.max(0, at - 80), at).replace(/\s+/g, ' ')}[SECRET]…`);
      }
    }
  }
  assert.deepEqual(hits, [], `secrets leaked:\n${hits.join('\n')}`);
});
