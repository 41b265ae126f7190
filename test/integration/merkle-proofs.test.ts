// Merkle proofs end to end, no mocks: events through the real `auditstream ingest` into ClickHouse
// 18.16 (checkpoints with signed tree heads), proofs from a real API server, checked offline by
// `auditstream proof verify` and by the Python checker of docs/integrity.md (run exactly as the
// markdown holds it, with examples/setup.sh's venv); then a stored row is tampered with and the
// proof fails, as do a proof under another key and an altered proof. An event published without producer
// columns (raw Avro, no SDK) whose stored producer_seq alone is changed: its proof fails too, as verify reports.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Api, apiDefaults, createApi, createApiKey } from '@auditstream/api';
import { repoRoot } from '@auditstream/core';
import { generateSigningKey } from '@auditstream/integrity';
import { createLogger, createMetricsRegistry } from '@auditstream/observability';
import {
  createTestEnv,
  type IngestChild,
  loginEvent,
  produceKeyed,
  publishEvents,
  runCli,
  spawnIngest,
  type TestEnv,
  verifyTestEnv,
  waitFor,
  waitForStored,
} from '@auditstream/test';

const EVENTS = 400;
const PYTHON = join(repoRoot(), 'examples', '.build', 'python', 'bin', 'python');
let env: TestEnv;
let ingest: IngestChild;
let api: Api;
let url: string;
let auditor: string;
let dir: string;

before(async () => {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
  env = await createTestEnv({
    partitions: 2,
    extraEnv: { AUDITSTREAM_INTEGRITY__CHECKPOINT_EVERY_EVENTS: '50', AUDITSTREAM_INTEGRITY__CHECKPOINT_INTERVAL_MS: '1000' },
  });
  dir = mkdtempSync(join(tmpdir(), 'merkle-proofs-'));
  ({ api, url, auditor } = await startApi(env));
});

after(async () => {
  await api?.stop();
  ingest?.proc.kill('SIGKILL');
  await env?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

/** A real API server over one test environment's database, and an auditor key of its tenant. */
async function startApi(e: TestEnv): Promise<{ api: Api; url: string; auditor: string }> {
  const key = (await createApiKey(e.ch, { role: 'auditor', tenants: [e.tenant] })).key;
  const server = createApi({
    config: apiDefaults({ host: '127.0.0.1', port: 0, api_key_cache_ttl_ms: 0, rate_limit_burst: 10_000, rate_limit_per_s: 10_000 }),
    clickhouse: e.ch,
    logger: createLogger({ service: 'merkle-int', level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    metrics: createMetricsRegistry({ service: 'merkle-int', defaultMetrics: false }),
    recordEvent: async () => {},
  });
  return { api: server, url: (await server.start()).url, auditor: key };
}

/** Waits until no mutation of the database is pending (18.16 has no mutations_sync). */
async function mutationsDone(e: TestEnv): Promise<void> {
  await waitFor(
    'the mutation to finish',
    () => e.ch.queryRows<{ n: string }>(`SELECT count() AS n FROM system.mutations WHERE database = '${e.database}' AND is_done = 0`),
    (r) => Number(r[0]?.n) === 0,
    60_000,
  );
}

function docsPython(): string {
  const md = readFileSync(join(repoRoot(), 'docs', 'integrity.md'), 'utf8');
  const blocks = [...md.matchAll(/^```python\n([\s\S]*?)^```$/gm)].map((m) => m[1] as string).filter((b) => b.includes('Verify an auditstream proof'));
  assert.equal(blocks.length, 1, 'one proof checker in docs/integrity.md');
  return blocks[0] as string;
}

async function get(path: string, key = auditor, base = url): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${key}` } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Both checkers on one proof document: [CLI exit code, Python exit code], with their output. */
async function check(
  name: string,
  doc: unknown,
  publicKeyFile = env.signingKey.publicKeyFile,
): Promise<{ cli: number | string; py: number | null; out: string }> {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(doc));
  const cli = await runCli('proof', ['proof', 'verify', '--public-key', publicKeyFile, file], env.env);
  const script = join(dir, 'proof.py');
  writeFileSync(script, docsPython());
  const py = spawnSync(PYTHON, [script, file, publicKeyFile], { encoding: 'utf8' });
  return { cli: cli.code, py: py.status, out: `${cli.output}\n${py.stdout}${py.stderr}` };
}

test('inclusion and consistency proofs from the API verify offline (CLI and Python); tampering makes them fail', async () => {
  assert.ok(existsSync(PYTHON), `the venv of examples/setup.sh (${PYTHON}): run bash examples/setup.sh`);
  // Two rounds, so each partition gets at least two signed tree heads (one batch is one checkpoint).
  await publishEvents(env.kafka, env.topic, env.tenant, EVENTS / 2);
  ingest = spawnIngest(env.env);
  await waitForStored(env, EVENTS / 2, { timeoutMs: 120_000 });
  await waitFor(
    'a tree head on each partition',
    () => env.ch.queryRows<{ n: string }>(`SELECT uniqExact(\`partition\`) AS n FROM ${env.database}.checkpoints WHERE tree_size > 0`),
    (r) => Number(r[0]?.n) === 2,
    60_000,
  );
  await publishEvents(env.kafka, env.topic, env.tenant, EVENTS / 2, EVENTS / 2);
  await waitForStored(env, EVENTS, { timeoutMs: 120_000 });
  ingest.proc.kill('SIGTERM'); // signs what is pending: every stored entry is under a tree head
  assert.equal(await ingest.exited, 0);

  const [row] = await env.ch.queryRows<{ id: string; o: string }>(
    `SELECT toString(event_id) AS id, toString(kafka_offset) AS o FROM ${env.database}.events WHERE kafka_partition = 0 ORDER BY kafka_offset LIMIT 1 OFFSET 17`,
  );
  const id = row?.id as string;
  const proof = await get(`/v1/events/${id}/proof`);
  assert.equal(proof.status, 200, JSON.stringify(proof.body));
  assert.equal(proof.body.type, 'inclusion');
  const head = proof.body.tree_head as Record<string, unknown>;
  const [count] = await env.ch.queryRows<{ n: string }>(`SELECT count() AS n FROM ${env.database}.events WHERE kafka_partition = 0`);
  assert.equal(head.tree_size, count?.n, 'the latest tree head covers the whole partition');
  const ok = await check('inclusion', proof.body);
  assert.deepEqual([ok.cli, ok.py], [0, 0], ok.out);

  // Consistency from the first signed tree head of partition 0 to the latest.
  const [first] = await env.ch.queryRows<{ s: string }>(
    `SELECT toString(min(tree_size)) AS s FROM ${env.database}.checkpoints WHERE \`partition\` = 0 AND tree_size > 0`,
  );
  assert.ok(Number(first?.s) < Number(count?.n), 'several tree heads were signed');
  const cons = await get(`/v1/integrity/consistency?partition=0&from_size=${first?.s}`);
  assert.equal(cons.status, 200, JSON.stringify(cons.body));
  const consOk = await check('consistency', cons.body);
  assert.deepEqual([consOk.cli, consOk.py], [0, 0], consOk.out);

  // Errors name the parameter; tenants stay isolated.
  const unknown = await get(`/v1/integrity/consistency?partition=0&from_size=${Number(first?.s) + 1}`);
  assert.equal(unknown.status, 404);
  assert.match(String(unknown.body.detail), /from_size/);
  const tooBig = await get(`/v1/integrity/consistency?partition=0&from_size=99999999`);
  assert.equal(tooBig.status, 400);
  assert.deepEqual((tooBig.body.errors as { parameter: string }[])[0]?.parameter, 'from_size');
  const other = (await createApiKey(env.ch, { role: 'auditor', tenants: ['someone-else'] })).key;
  assert.equal((await get(`/v1/events/${id}/proof`, other)).status, 404, 'another tenant cannot see the event or its proof');

  // A proof under another key, an altered tree size, and a path against another root fail.
  const stranger = generateSigningKey();
  const strangerFile = join(dir, 'stranger.pem');
  writeFileSync(strangerFile, stranger.publicPem);
  const otherKey = await check('other-key', proof.body, strangerFile);
  assert.deepEqual([otherKey.cli, otherKey.py], [1, 1], otherKey.out);
  const resized = await check('resized', { ...proof.body, tree_head: { ...head, tree_size: String(Number(head.tree_size) + 1) } });
  assert.deepEqual([resized.cli, resized.py], [1, 1], resized.out);
  const consHead = cons.body.to_tree_head as Record<string, unknown>;
  const swapped = await check('other-root', {
    ...cons.body,
    to_tree_head: { ...consHead, tree_root: (cons.body.from_tree_head as Record<string, unknown>).tree_root },
  });
  assert.deepEqual([swapped.cli, swapped.py], [1, 1], swapped.out);

  // A stored row changed: the proof the API now builds fails (its entry no longer hashes to the leaf).
  await env.ch.command(`ALTER TABLE ${env.database}.events UPDATE reason = 'nothing happened' WHERE kafka_partition = 0 AND kafka_offset = ${row?.o}`);
  await mutationsDone(env);
  const tampered = await get(`/v1/events/${id}/proof`);
  assert.equal(tampered.status, 200);
  const bad = await check('tampered', tampered.body);
  assert.deepEqual([bad.cli, bad.py], [1, 1], bad.out);
  assert.match(bad.out, /hash/);
  // … and with its hash recomputed too, the leaf no longer leads to the signed root.
  const forged = { ...tampered.body, entry_hash: String(tampered.body.entry_hash).replace(/^./, (c) => (c === '0' ? '1' : '0')) };
  const forgedCheck = await check('forged-leaf', forged);
  assert.deepEqual([forgedCheck.cli, forgedCheck.py], [1, 1], forgedCheck.out);
});

test('an event published without producer columns: changing only its stored producer_seq makes its proof fail, as verify reports; the others still verify', async () => {
  // Its own topic, group, database and API: raw Avro straight through kafkajs (the SDK always stamps producer_id and
  // producer_seq), so ingest stores producer_id '' and producer_seq 0, which queries show as null.
  const raw = await createTestEnv({
    partitions: 1,
    extraEnv: { AUDITSTREAM_INTEGRITY__CHECKPOINT_EVERY_EVENTS: '50', AUDITSTREAM_INTEGRITY__CHECKPOINT_INTERVAL_MS: '1000' },
  });
  const rawApi = await startApi(raw);
  let child: IngestChild | undefined;
  const proofOf = (id: string) => get(`/v1/events/${id}/proof`, rawApi.auditor, rawApi.url);
  const checkRaw = (name: string, doc: unknown) => check(name, doc, raw.signingKey.publicKeyFile);
  try {
    const now = Date.now();
    const events = Array.from({ length: 8 }, (_, i) => loginEvent(`user${i}`, '192.0.2.7', i % 2 ? 'failure' : 'success', now - 8_000 + i * 1000, raw.tenant));
    await produceKeyed(raw.kafka, raw.topic, events);
    child = spawnIngest(raw.env);
    await waitForStored(raw, events.length, { timeoutMs: 120_000 });
    child.proc.kill('SIGTERM'); // signs what is pending: every stored entry is under a tree head
    assert.equal(await child.exited, 0);
    const stored = await raw.ch.queryRows<{ id: string; pid: string; seq: string; o: string }>(
      `SELECT lower(toString(event_id)) AS id, producer_id AS pid, toString(producer_seq) AS seq, toString(kafka_offset) AS o FROM ${raw.database}.events ORDER BY kafka_offset`,
    );
    assert.equal(stored.length, events.length);
    assert.ok(
      stored.every((r) => r.pid === '' && r.seq === '0'),
      JSON.stringify(stored),
    );
    const victim = stored[3] as (typeof stored)[number];
    const untouched = stored[5] as (typeof stored)[number];

    const genuine = await proofOf(victim.id);
    assert.equal(genuine.status, 200, JSON.stringify(genuine.body));
    const genuineEntry = JSON.parse(String(genuine.body.entry)) as Record<string, unknown>;
    assert.deepEqual([genuineEntry.v, genuineEntry.producer_id, genuineEntry.producer_seq], [2, '', '0'], 'format 2 hashes the producer columns');
    const ok = await checkRaw('raw-genuine', genuine.body);
    assert.deepEqual([ok.cli, ok.py], [0, 0], ok.out);

    // Only producer_seq of one row changed: verify names the row, and its proof (the row as stored) no longer verifies.
    await raw.ch.command(`ALTER TABLE ${raw.database}.events UPDATE producer_seq = 7 WHERE event_id = toUUID('${victim.id}')`);
    await mutationsDone(raw);
    const report = await verifyTestEnv(raw);
    assert.deepEqual([report.first_error?.kind, report.first_error?.offset], ['modified', victim.o], JSON.stringify(report.findings.slice(0, 3)));
    const changed = await proofOf(victim.id);
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    const bad = await checkRaw('raw-changed', changed.body);
    assert.deepEqual([bad.cli, bad.py], [1, 1], bad.out);
    assert.match(bad.out, /hash/);
    assert.equal((JSON.parse(String(changed.body.entry)) as Record<string, unknown>).producer_seq, '7', 'the entry shows the row as stored');

    const other = await proofOf(untouched.id);
    assert.equal(other.status, 200, JSON.stringify(other.body));
    const fine = await checkRaw('raw-untouched', other.body);
    assert.deepEqual([fine.cli, fine.py], [0, 0], fine.out);
  } finally {
    child?.proc.kill('SIGKILL');
    await rawApi.api.stop();
    await raw.cleanup();
  }
});
