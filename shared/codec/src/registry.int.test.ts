// Integration: the codec against a real schema registry, Apicurio Registry 2.6 (the local stack's,
// Confluent-compatible API under /apis/ccompat/v7), on a PRIVATE stack (298xx/288xx ports, temp
// state folder): one test stops the registry. No fake registry here.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { AuditstreamError, uniqueName } from '@auditstream/core';
import { type AuditEventInput, type AvroSchema, auditEventSchema, typeForSchema } from '@auditstream/schemas';
import { createStack, type Stack } from '@auditstream/stack';
import { createCodec } from './codec.js';
import { createRegistryClient } from './registry.js';

const PORTS = { kafkaPort: 29892, kafkaControllerPort: 29893, clickhouseHttpPort: 28823, clickhouseTcpPort: 29800, registryPort: 28881 };
const REGISTRY_URL = `http://127.0.0.1:${PORTS.registryPort}/apis/ccompat/v7`;

let stack: Stack;
let stateDir: string;

before(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'auditstream-codec-'));
  stack = createStack({ stateDir, ...PORTS, withRegistry: true, stopGraceMs: 10_000 });
  await stack.up();
});

after(async () => {
  await stack?.down().catch(() => {});
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

const event: AuditEventInput = {
  event_id: '01890f5c-3b2a-7cde-8f01-23456789abcd',
  tenant_id: 'acme',
  occurred_at: 1_714_564_800_123_457,
  actor: { id: 'u-1', type: 'user', name: null, session_id: null, ip: '203.0.113.9', user_agent: null },
  action: 'auth.login',
  category: 'authentication',
  outcome: 'failure',
  reason: 'invalid_password',
  service: 'sso',
  host: null,
  region: null,
  resource: null,
  request_id: null,
  trace_id: null,
  severity: 'low',
  attributes: { mfa: 'false', ünï: 'välue ✓' },
  producer_id: null,
  producer_seq: null,
};

/** Decoded records are avsc record instances: compare their data. */
function plain(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v));
}

function isCode(code: string) {
  return (e: unknown) => e instanceof AuditstreamError && e.code === code;
}

async function registryGet(path: string): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${REGISTRY_URL}${path}`);
  return { status: res.status, json: await res.json().catch(() => undefined) };
}

test('registers <topic>-value, writes Confluent framing with the registry id, and a cold codec decodes by id', async () => {
  const topic = uniqueName('it_codec');
  const writer = createCodec({ registryUrl: REGISTRY_URL });
  assert.equal(writer.format, 'confluent');
  assert.equal(writer.isReady(topic), false);
  assert.throws(() => writer.encodeSync(event, topic), isCode('CODEC_NOT_READY'));
  const bytes = await writer.encode(event, topic);
  assert.equal(writer.isReady(topic), true);

  // The registry holds the subject, with the contract, under the id the frame names.
  const subjects = (await registryGet('/subjects')).json as string[];
  assert.ok(subjects.includes(`${topic}-value`), `subjects: ${subjects.join(', ')}`);
  const latest = (await registryGet(`/subjects/${encodeURIComponent(`${topic}-value`)}/versions/latest`)).json as { id: number; schema: string };
  assert.equal(bytes[0], 0x00, 'Confluent magic byte');
  assert.equal(bytes.readUInt32BE(1), latest.id);
  const stored = JSON.parse(latest.schema) as AvroSchema;
  assert.deepEqual(typeForSchema(stored).schema(), typeForSchema(auditEventSchema).schema(), 'the registered schema is the contract');
  // The body is plain Avro of the contract.
  assert.deepEqual(plain(typeForSchema(auditEventSchema).fromBuffer(bytes.subarray(5))), event);

  // A fresh codec (cold caches) knows nothing about that id until it asks the registry.
  const reader = createCodec({ registryUrl: REGISTRY_URL });
  assert.throws(() => reader.decodeSync(bytes), isCode('CODEC_SCHEMA_NOT_LOADED'));
  assert.deepEqual(plain(await reader.decode(bytes)), event);
  assert.deepEqual(plain(reader.decodeSync(bytes)), event, 'the id is cached after the first fetch');

  // Registering again (another process, same subject and schema) gives the same id.
  const again = createCodec({ registryUrl: REGISTRY_URL });
  const bytes2 = await again.encode(event, topic);
  assert.equal(bytes2.readUInt32BE(1), latest.id);
  assert.ok(bytes2.equals(bytes));
});

test('a newer writer schema registered by someone else is fetched by id and resolved to the current reader', async () => {
  const v2 = structuredClone(auditEventSchema) as unknown as { fields: unknown[] };
  v2.fields.push({ name: 'geo_country', type: ['null', 'string'], default: null });
  const topic = uniqueName('it_codec_v2');
  const newer = createCodec({ registryUrl: REGISTRY_URL, schema: v2 as unknown as AvroSchema });
  const bytes = await newer.encode({ ...event, geo_country: 'NL' } as AuditEventInput, topic);
  const reader = createCodec({ registryUrl: REGISTRY_URL });
  const decoded = await reader.decode(bytes);
  assert.deepEqual(plain(decoded), event, 'the unknown field is skipped, the rest is the event');
});

test('an id the registry does not have is CODEC_UNKNOWN_SCHEMA_ID (not retriable)', async () => {
  const reader = createCodec({ registryUrl: REGISTRY_URL });
  const frame = Buffer.concat([Buffer.from([0, 0x0f, 0x42, 0x3f, 0xff]), Buffer.alloc(20)]);
  await assert.rejects(reader.decode(frame), (e: unknown) => isCode('CODEC_UNKNOWN_SCHEMA_ID')(e) && !(e as AuditstreamError).retriable);
});

test('registry unreachable: CODEC_REGISTRY_UNREACHABLE, retriable, naming the registry and the problem — a closed port, then the real registry stopped', async () => {
  // A port nobody listens on.
  const probe = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => probe.once('listening', r));
  const port = (probe.address() as { port: number }).port;
  await new Promise((r) => probe.close(r));
  const closed = createCodec({
    registry: createRegistryClient({ url: `http://127.0.0.1:${port}/apis/ccompat/v7`, retry: { max_attempts: 2, initial_delay_ms: 10 } }),
  });
  await assert.rejects(closed.encode(event, 'audit.events'), (e: unknown) => {
    assert.ok(isCode('CODEC_REGISTRY_UNREACHABLE')(e), String(e));
    const err = e as AuditstreamError;
    assert.equal(err.retriable, true);
    assert.match(
      err.message,
      new RegExp(`schema registry http://127\\.0\\.0\\.1:${port}/apis/ccompat/v7 is unreachable \\(registering subject audit\\.events-value\\): ECONNREFUSED`),
    );
    return true;
  });

  // The stack's registry, killed: registering a new subject and fetching an unseen id both fail the same way.
  const reg = (await stack.status()).find((c) => c.name === 'registry');
  assert.ok(reg?.pid, 'the private registry runs');
  const codec = createCodec({ registry: createRegistryClient({ url: REGISTRY_URL, timeoutMs: 2000, retry: { max_attempts: 2, initial_delay_ms: 10 } }) });
  process.kill(reg.pid, 'SIGKILL');
  for (let i = 0; i < 50 && (await stack.status()).find((c) => c.name === 'registry')?.running; i++) await delay(100);
  await assert.rejects(codec.prepare(uniqueName('it_down')), (e: unknown) => {
    assert.ok(isCode('CODEC_REGISTRY_UNREACHABLE')(e), String(e));
    assert.equal((e as AuditstreamError).retriable, true);
    assert.match(
      (e as Error).message,
      /schema registry http:\/\/127\.0\.0\.1:28881\/apis\/ccompat\/v7 is unreachable \(registering subject it_down_\w+-value\): ECONNREFUSED/,
    );
    return true;
  });
  const frame = Buffer.concat([Buffer.from([0, 0, 0, 0x7f, 0x01]), Buffer.alloc(20)]);
  await assert.rejects(codec.decode(frame), (e: unknown) => {
    assert.ok(isCode('CODEC_REGISTRY_UNREACHABLE')(e), String(e));
    assert.match((e as Error).message, /unreachable \(schema id 32513\)/);
    return true;
  });
});
