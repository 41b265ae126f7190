import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { repoRoot } from '@auditstream/core';
import { checkpointMessageValue, readCheckpointsTopic } from '@auditstream/integrity';
import {
  createTestEnv,
  type IngestChild,
  publishEvents,
  publishPoison,
  spawnIngest,
  type TestEnv,
  verifyTestEnv,
  waitFor,
  waitForStored,
} from '@auditstream/test';

// docs/integrity.md's auditor script, run exactly as the markdown holds it (CI extracts it, so the
// docs cannot drift), with python3 against a database populated by the real `auditstream ingest`:
// an intact log passes; a modified row, a repeated attribute key, and a partition whose rows were
// all deleted each make it fail, naming the place; a chain whose oldest rows were deleted (no
// retention run) is a warning saying so, and fails with --require-retention-evidence.

const PARTITIONS = 3;
const EVENTS = 600;
const POISON = 6;
let env: TestEnv;
let dir: string;
const children: IngestChild[] = [];

before(async () => {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
  env = await createTestEnv({
    partitions: PARTITIONS,
    extraEnv: { AUDITSTREAM_INTEGRITY__CHECKPOINT_EVERY_EVENTS: '50', AUDITSTREAM_INTEGRITY__CHECKPOINT_INTERVAL_MS: '1000' },
  });
  dir = mkdtempSync(join(tmpdir(), 'integrity-docs-'));
});
after(async () => {
  for (const c of children) c.proc.kill('SIGKILL');
  await env?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

/** The fenced python blocks of docs/integrity.md, in order. */
function docsPython(): string {
  const md = readFileSync(join(repoRoot(), 'docs', 'integrity.md'), 'utf8');
  const blocks = [...md.matchAll(/^```python\n([\s\S]*?)^```$/gm)].map((m) => m[1] as string).filter((b) => b.includes('Verify an auditstream store'));
  assert.equal(blocks.length, 1, 'one runnable script in the auditor guide');
  return blocks[0] as string;
}

async function mutate(sqlText: string): Promise<void> {
  await env.ch.command(sqlText);
  await waitFor(
    'the mutation to finish',
    () => env.ch.queryRows<{ n: string }>(`SELECT count() AS n FROM system.mutations WHERE database = '${env.database}' AND is_done = 0`),
    (r) => Number(r[0]?.n) === 0,
    60_000,
  );
}

function runScript(...extra: string[]): { code: number | null; out: string } {
  const cfg = env.config.clickhouse;
  const script = join(dir, 'audit.py');
  writeFileSync(script, docsPython());
  const r = spawnSync(
    'python3',
    [
      script,
      '--clickhouse',
      cfg.url,
      '--user',
      cfg.username,
      '--database',
      env.database,
      '--topic',
      env.topic,
      '--public-key',
      env.signingKey.publicKeyFile,
      '--committed',
      join(dir, 'committed.txt'),
      '--topic-checkpoints',
      join(dir, 'checkpoints.ndjson'),
      '--watermarks-cmd',
      `cat ${join(dir, 'watermarks.txt')}`,
      ...extra,
    ],
    { encoding: 'utf8', env: { ...process.env, CLICKHOUSE_PASSWORD: cfg.password ?? '' } },
  );
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

test('the auditor script in docs/integrity.md passes on an intact log and fails on tampered ones', async () => {
  assert.match(execFileSync('python3', ['--version'], { encoding: 'utf8' }), /Python 3/);
  await publishEvents(env.kafka, env.topic, env.tenant, EVENTS);
  await publishPoison(env.kafka, env.topic, POISON, PARTITIONS);
  const ingest = spawnIngest(env.env);
  children.push(ingest);
  await waitForStored(env, EVENTS, { timeoutMs: 120_000 });
  const admin = env.kafka.admin();
  await admin.connect();
  try {
    await waitFor(
      'every offset committed',
      async () => (await admin.fetchOffsets({ groupId: env.group, topics: [env.topic] }))[0]?.partitions.reduce((s, p) => s + Number(p.offset), 0),
      (n) => n === EVENTS + POISON,
      60_000,
    );
    ingest.proc.kill('SIGTERM');
    assert.equal(await ingest.exited, 0);
    // What the auditor gathers with Kafka's own tools (see the guide): committed offsets and the
    // checkpoints topic before the script runs, the high watermarks after it has read the rows.
    const committed = (await admin.fetchOffsets({ groupId: env.group, topics: [env.topic] }))[0]?.partitions ?? [];
    writeFileSync(join(dir, 'committed.txt'), committed.map((p) => `${env.topic}:${p.partition}:${p.offset}\n`).join(''));
    const marks = await admin.fetchTopicOffsets(env.topic);
    writeFileSync(join(dir, 'watermarks.txt'), marks.map((p) => `${env.topic}:${p.partition}:${p.high}\n`).join(''));
  } finally {
    await admin.disconnect();
  }
  const cps = await readCheckpointsTopic(env.kafka, env.checkpoints);
  // The message values as kafka-console-consumer prints them.
  const lines = [...(cps?.byPartition.values() ?? [])].flat().map((c) => `${checkpointMessageValue(c)}\n`);
  assert.ok(lines.length >= PARTITIONS, 'checkpoints were published');
  writeFileSync(join(dir, 'checkpoints.ndjson'), lines.join(''));
  assert.equal((await verifyTestEnv(env)).ok, true, 'auditstream verify agrees the log is intact');

  const intact = runScript();
  assert.equal(intact.code, 0, intact.out);
  assert.match(intact.out, new RegExp(`OK: ${PARTITIONS} partitions, ${EVENTS} chain entries, 0 errors`));

  // A field changed in place.
  const [victim] = await env.ch.queryRows<{ p: number; o: string }>(
    `SELECT kafka_partition AS p, toString(kafka_offset) AS o FROM ${env.database}.events WHERE kafka_partition = 0 ORDER BY kafka_offset LIMIT 1 OFFSET 7`,
  );
  await mutate(`ALTER TABLE ${env.database}.events UPDATE reason = 'nothing happened' WHERE kafka_partition = 0 AND kafka_offset = ${victim?.o}`);
  const modified = runScript();
  assert.equal(modified.code, 1, modified.out);
  assert.match(modified.out, new RegExp(`partition 0: offset ${victim?.o} event [0-9a-f-]+: modified`));

  // A repeated attribute key whose map would hash the same: ingest never writes one.
  const [dup] = await env.ch.queryRows<{ o: string }>(
    `SELECT toString(kafka_offset) AS o FROM ${env.database}.events WHERE kafka_partition = 1 ORDER BY kafka_offset LIMIT 1 OFFSET 3`,
  );
  await mutate(
    `ALTER TABLE ${env.database}.events UPDATE attr_keys = arrayConcat(attr_keys, [attr_keys[1]]), attr_values = arrayConcat(attr_values, [attr_values[1]]) WHERE kafka_partition = 1 AND kafka_offset = ${dup?.o}`,
  );
  const repeated = runScript();
  assert.equal(repeated.code, 1, repeated.out);
  assert.match(repeated.out, new RegExp(`partition 1: offset ${dup?.o} event [0-9a-f-]+: modified`));
  const ours = await verifyTestEnv(env);
  assert.ok(
    ours.findings.some((f) => f.kind === 'modified' && f.partition === 1 && f.offset === dup?.o),
    'auditstream verify applies the same rule',
  );

  // The oldest rows of partition 1 deleted (the repeated key among them), and no retention run to explain it.
  const [first] = await env.ch.queryRows<{ o: string; s: string }>(
    `SELECT toString(kafka_offset) AS o, toString(chain_seq) AS s FROM ${env.database}.events WHERE kafka_partition = 1 ORDER BY kafka_offset LIMIT 1 OFFSET 10`,
  );
  await mutate(`ALTER TABLE ${env.database}.events DELETE WHERE kafka_partition = 1 AND kafka_offset < ${first?.o}`);
  // No checkpoint signs chain_seq 10 (one every 50 events): not anchored, but covered by the next one.
  const cut = `partition 1: chain starts at chain_seq ${first?.s}, not anchored by a checkpoint; no retention run explains the earlier entries`;
  const truncated = runScript();
  assert.match(truncated.out, new RegExp(`warning: ${cut}`));
  assert.doesNotMatch(truncated.out, /ERROR: partition 1/);
  const strict = runScript('--require-retention-evidence');
  assert.match(strict.out, new RegExp(`ERROR: ${cut}`));
  const oursStrict = await verifyTestEnv(env, { requireRetentionEvidence: true });
  assert.deepEqual(
    oursStrict.findings.filter((f) => f.partition === 1).map((f) => `${f.kind}:${f.severity}:${f.offset}`),
    [`truncated:error:${first?.o}`],
    'auditstream verify applies the same rule',
  );

  // Every row of a partition deleted: the partition is still listed (checkpoints, dead letters, commits) and fails.
  await mutate(`ALTER TABLE ${env.database}.events DELETE WHERE kafka_partition = 2`);
  const emptied = runScript();
  assert.equal(emptied.code, 1, emptied.out);
  assert.match(emptied.out, /partition 2: checkpoint at offset \d+ proves entries beyond the stored chain/);
  assert.match(emptied.out, /partition 2: ingest committed offset \d+, but offsets after -1 are neither stored nor dead-lettered/);
  assert.match(emptied.out, new RegExp(`FAILED: ${PARTITIONS} partitions`));
  const afterDelete = await verifyTestEnv(env);
  assert.ok(
    afterDelete.findings.some((f) => f.severity === 'error' && f.partition === 2),
    'auditstream verify also lists the emptied partition and fails it',
  );
});
