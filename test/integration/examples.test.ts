import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { createClickHouse, findEvents, type StoredEvent } from '@auditstream/clickhouse';
import { createCodec } from '@auditstream/codec';
import { repoRoot, UUID_V7_RE } from '@auditstream/core';
import { clickhouseWriter, createIngest, detectLayout, type Ingest, integrityFromConfig, scanDlq } from '@auditstream/ingest';
import { createMetricsRegistry } from '@auditstream/observability';
import { type AuditProducer, createAuditProducer, createEventNormalizer, murmur2, type PublishInput, type PublishReceipt } from '@auditstream/producer';
import { countStored, createTestEnv, quietLogger, scrape, type TestEnv, waitFor } from '@auditstream/test';

// The producers in examples/ (Python: confluent-kafka + fastavro; Go: franz-go + hamba/avro;
// Java: kafka-clients + Avro's single-object encoder) against the real Kafka and ClickHouse,
// with a real ingest on this test's own topic and database. Each publishes 1,000 events, in turn
// with rounds of SDK publishes for the same actors: every event is stored with the fields its
// producer sent, and each actor's events, whoever published them, sit on one partition in the
// order they were published (docs/producers.md: key, murmur2 partitioner).

const root = repoRoot();
const run = promisify(execFile);
const PARTITIONS = 6;
const EXAMPLE_EVENTS = 1000;
const SDK_ROUND = 60;
// A non-ASCII id: the key is hashed as UTF-8 bytes by every client.
const ACTORS = ['alice', 'bob', 'carol', 'dave', 'zoë', 'svc-backup'];
const BUILD = join(root, 'examples', '.build');
type Example = 'python' | 'go' | 'java';
/** Each example's command line (before the common arguments), as its README runs it. */
const COMMAND: Record<Example, () => string[]> = {
  python: () => [join(BUILD, 'python', 'bin', 'python'), join(root, 'examples', 'python', 'produce.py')],
  go: () => [join(BUILD, 'go', 'produce'), '--schema', join(root, 'shared', 'schemas', 'audit_event.avsc')],
  java: () => ['java', '-cp', javaClasspath, 'io.auditstream.examples.Produce'],
};
/** Publish order: SDK rounds around each example. */
const STEPS: Array<'sdk' | Example> = ['sdk', 'python', 'sdk', 'go', 'sdk', 'java', 'sdk'];

let env: TestEnv;
let ingest: Ingest;
let sdk: AuditProducer;
let javaClasspath: string;

before(async () => {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
  // Installs (first time) and builds the three examples into examples/.build; a no-op check after.
  await run('bash', [join(root, 'examples', 'setup.sh')], { timeout: 600_000, maxBuffer: 16 * 1024 * 1024 });
  javaClasspath = `${join(BUILD, 'java', 'classes')}:${(await readFile(join(BUILD, 'java', 'classpath.txt'), 'utf8')).trim()}`;

  env = await createTestEnv({ partitions: PARTITIONS });
  const normalize = createEventNormalizer();
  const ch = createClickHouse(env.config.clickhouse, { logger: quietLogger() });
  ingest = createIngest({
    config: env.config,
    logger: quietLogger(),
    registry: createMetricsRegistry({ service: 'examples-test' }),
    storage: { prepare: async () => clickhouseWriter(ch, await detectLayout(ch)), ping: () => ch.ping(), close: () => ch.close() },
    integrity: integrityFromConfig(env.config.integrity, ch),
    decoder: createCodec(),
    validate: (event, receivedAtMs) => {
      normalize(event as unknown as PublishInput, receivedAtMs);
    },
  });
  await ingest.start();
  sdk = createAuditProducer({ kafka: env.kafka, topic: env.topic });
  await sdk.connect();
});

after(async () => {
  await sdk?.close();
  await ingest?.stop('test done');
  await env?.cleanup();
});

async function runExample(name: Example): Promise<void> {
  const [cmd, ...pre] = COMMAND[name]();
  const args = [
    ...pre,
    '--bootstrap-servers',
    env.config.kafka.brokers.join(','),
    '--topic',
    env.topic,
    '--tenant',
    env.tenant,
    '--count',
    String(EXAMPLE_EVENTS),
    '--actors',
    ACTORS.join(','),
  ];
  // A UTF-8 locale, so the JVM decodes the non-ASCII actor argument as UTF-8 (CI may run under C).
  const childEnv = { ...process.env, LC_ALL: 'C.UTF-8' };
  const out = await run(cmd as string, args, { cwd: join(root, 'examples', name), env: childEnv, timeout: 180_000 }).catch(
    (err: { stderr?: string; message: string }) => {
      throw new Error(`the ${name} example failed: ${err.message}\n${err.stderr ?? ''}`);
    },
  );
  assert.deepEqual(
    JSON.parse(out.stdout.trim().split('\n').at(-1) as string),
    { published: EXAMPLE_EVENTS, topic: env.topic, tenant: env.tenant },
    `${name} output`,
  );
}

async function sdkRound(round: number): Promise<PublishReceipt[]> {
  const events = Array.from({ length: SDK_ROUND }, (_, i): PublishInput => {
    const seq = round * SDK_ROUND + i;
    return {
      tenant_id: env.tenant,
      actor: { id: ACTORS[seq % ACTORS.length] as string, type: 'user' },
      action: 'document.read',
      category: 'resource_access',
      outcome: 'success',
      service: 'sdk',
      attributes: { example: 'sdk', seq: String(seq) },
    };
  });
  return sdk.publishMany(events);
}

/** For a failure message: what was stored per producer, and what was dead-lettered and why. */
async function whereTheyWent(): Promise<string> {
  const rows = await env.ch.queryRows<{ service: string; n: string }>(
    `SELECT service, count() AS n FROM ${env.database}.events WHERE tenant_id = '${env.tenant}' GROUP BY service ORDER BY service`,
  );
  const dead = await scanDlq(env.kafka, env.dlq, { timeoutMs: 5000 });
  const reasons = new Map<string, number>();
  for (const d of dead) reasons.set(`${d.errorClass}: ${d.errorMessage}`, (reasons.get(`${d.errorClass}: ${d.errorMessage}`) ?? 0) + 1);
  return `stored by service ${JSON.stringify(Object.fromEntries(rows.map((r) => [r.service, Number(r.n)])))}, dead letters ${JSON.stringify(Object.fromEntries(reasons))}`;
}

/** Position of an event in the publish order: (step, seq), compared lexicographically. */
function position(e: StoredEvent['event']): [number, number] {
  const seq = Number(e.attributes.seq);
  const example = e.attributes.example as 'sdk' | Example;
  const step = example === 'sdk' ? 2 * Math.floor(seq / SDK_ROUND) : STEPS.indexOf(example);
  return [step, seq];
}

test(`the Python, Go and Java examples publish ${EXAMPLE_EVENTS} events each; all stored, per-actor order kept alongside the SDK`, async () => {
  const started = Date.now();
  const receipts: PublishReceipt[] = [];
  let round = 0;
  for (const step of STEPS) {
    if (step === 'sdk') receipts.push(...(await sdkRound(round++)));
    else await runExample(step);
  }
  const finished = Date.now();
  const total = 3 * EXAMPLE_EVENTS + round * SDK_ROUND;
  // Fails at once, with ingest's error, if ingest stops (e.g. on a batch it cannot read).
  const stopped = ingest.done.then(({ error, result }) => {
    throw new Error(`ingest stopped before storing everything: ${(error as Error)?.message ?? result.reason}`);
  });
  await Promise.race([
    waitFor(
      `${total} events stored`,
      () => countStored(env.ch, env.tenant),
      (n) => n >= total,
      120_000,
    ),
    stopped,
  ]).catch(async (err: Error) => {
    throw new Error(`${err.message}; ${await whereTheyWent()}`);
  });
  const stored = await findEvents(env.ch, { tenant_id: env.tenant, from: 0, to: 4_000_000_000_000_000 }, { limit: 100_000, order: 'asc' });
  assert.equal(stored.length, total, 'each event stored once');
  assert.equal(await scrape(ingest.metricsUrl() as string, 'auditstream_ingest_dead_lettered_events_total'), 0, 'nothing dead-lettered');

  // Every example event, with the fields its producer sent.
  for (const name of ['python', 'go', 'java'] as const) {
    const mine = stored.filter((s) => s.event.attributes.example === name);
    assert.equal(mine.length, EXAMPLE_EVENTS, `${name}: every event stored`);
    assert.deepEqual(new Set(mine.map((s) => Number(s.event.attributes.seq))).size, EXAMPLE_EVENTS, `${name}: seq 0..${EXAMPLE_EVENTS - 1} once each`);
    for (const { event: e } of mine) {
      const seq = Number(e.attributes.seq);
      assert.match(e.event_id, UUID_V7_RE, `${name}: event_id is a UUIDv7`);
      assert.ok(e.occurred_at >= started * 1000 && e.occurred_at <= finished * 1000, `${name}: occurred_at is the publish time, in microseconds`);
      assert.deepEqual(
        {
          tenant: e.tenant_id,
          actor: e.actor,
          action: e.action,
          category: e.category,
          outcome: e.outcome,
          service: e.service,
          resource: e.resource,
          severity: e.severity,
          attributes: e.attributes,
          nulls: [e.reason, e.host, e.region, e.request_id, e.trace_id],
        },
        {
          tenant: env.tenant,
          actor: { id: ACTORS[seq % ACTORS.length], type: 'user', name: null, session_id: null, ip: '203.0.113.7', user_agent: null },
          action: 'document.read',
          category: 'resource_access',
          outcome: 'success',
          service: `example-${name}`,
          resource: { type: 'document', id: `doc-${seq}`, name: null },
          severity: 'info',
          attributes: { example: name, seq: String(seq) },
          nulls: [null, null, null, null, null],
        },
        `${name} event ${seq}`,
      );
    }
  }

  // The SDK's events are where its receipts say.
  const bySdkId = new Map(receipts.map((r) => [r.event_id, r]));
  for (const s of stored.filter((x) => x.event.attributes.example === 'sdk')) {
    const r = bySdkId.get(s.event.event_id);
    assert.ok(r, 'a stored SDK event has a receipt');
    assert.deepEqual([s.meta.kafka_partition, s.meta.kafka_offset], [r.partition, r.offset], 'stored at its receipt');
  }

  // Per actor: one partition for every producer (murmur2 of the UTF-8 key, as the SDK), and
  // offsets in publish order across the SDK's rounds and the three examples.
  const partitions = new Set<number>();
  // Producers use the actors in turn: seq s goes to actor s % ACTORS.length.
  const turns = (n: number, i: number) => Math.ceil((n - i) / ACTORS.length);
  for (const [i, actor] of ACTORS.entries()) {
    const events = stored.filter((s) => s.event.actor.id === actor);
    assert.equal(events.length, 3 * turns(EXAMPLE_EVENTS, i) + turns(round * SDK_ROUND, i), `${actor}: all its events`);
    const expected = (murmur2(`${env.tenant}:${actor}`) & 0x7fffffff) % PARTITIONS;
    assert.deepEqual([...new Set(events.map((s) => s.meta.kafka_partition))], [expected], `${actor}: every producer chose the SDK's partition`);
    partitions.add(expected);
    events.sort((a, b) => Number(BigInt(a.meta.kafka_offset) - BigInt(b.meta.kafka_offset)));
    for (let i = 1; i < events.length; i++) {
      const [prev, cur] = [position((events[i - 1] as StoredEvent).event), position((events[i] as StoredEvent).event)];
      assert.ok(prev[0] < cur[0] || (prev[0] === cur[0] && prev[1] < cur[1]), `${actor}: offset order is publish order (${prev} before ${cur})`);
    }
  }
  assert.ok(partitions.size > 1, 'the actors spread over several partitions (the check above is not trivially true)');
});
