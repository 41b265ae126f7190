// The SDK as a user gets it: `npm pack` in shared/producer, then, in a fresh folder outside the
// repository, `npm init -y`, `npm install <tarball>` and a plain `node app.mjs`
// (test/fixtures/sdk-package/app.mjs) publishing to the real Kafka. The test reads the topic
// back and checks every event against its receipt. app.mjs runs on the node running the test
// (CI runs it on Node 20 and on Node 24); npm is the PATH's.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createCodec } from '@auditstream/codec';
import { repoRoot, uniqueName } from '@auditstream/core';
import { createKafkaClient, deleteTopics } from '@auditstream/kafka';

const root = repoRoot();
const brokers = (process.env.AUDITSTREAM_KAFKA__BROKERS ?? '127.0.0.1:9092').split(',');
const EVENTS = 200;
const work = mkdtempSync(join(tmpdir(), 'sdk-package-'));
const topic = uniqueName('sdkpkg');
const kafka = createKafkaClient({ brokers, client_id: 'sdk-package-test' }, { component: 'sdk-package-test' });

const CONSUMER_TS = `import { Kafka } from 'kafkajs';
import { AuditstreamError, createAuditProducer, type PublishReceipt } from '@auditstream/producer';
const audit = createAuditProducer({ kafka: new Kafka({ brokers: ['127.0.0.1:9092'] }), topic: 'audit.events' });
const event = { tenant_id: 'a', actor: { id: 'u', type: 'user' as const }, action: 'a.b', outcome: 'success' as const, service: 's' };
export const receipt: Promise<PublishReceipt> = audit.publish({ ...event, category: 'data_export' });
// @ts-expect-error: category must be one of the contract's symbols
audit.publish({ ...event, category: 'no_such_category' });
export const code = (e: unknown) => (e instanceof AuditstreamError ? e.code : undefined);
`;

function npm(args: string[], cwd: string, timeoutMs: number): string {
  const r = spawnSync('npm', [...args, '--no-audit', '--no-fund'], { cwd, encoding: 'utf8', timeout: timeoutMs });
  assert.equal(r.status, 0, `npm ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

after(async () => {
  rmSync(work, { recursive: true, force: true });
  await deleteTopics(kafka, [topic]);
});

test('npm pack → npm install in a fresh folder → plain node publishes and gets receipts', { timeout: 600_000 }, async () => {
  // 1. Pack (prepack builds dist/package) into a folder outside the repository.
  npm(['pack', '--pack-destination', work], join(root, 'shared/producer'), 300_000);
  const tarballs = readdirSync(work).filter((f) => f.endsWith('.tgz'));
  assert.equal(tarballs.length, 1, `one tarball in ${work}: ${tarballs.join(', ')}`);
  const tarball = join(work, tarballs[0] as string);
  const listing = spawnSync('tar', ['tzf', tarball], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
  assert.ok(listing.includes('package/dist/package/lib/index.js'), 'compiled JavaScript');
  assert.ok(listing.includes('package/dist/package/index.d.ts'), 'declarations');
  const strays = listing.filter((f) => /\.ts$/.test(f) && !f.endsWith('.d.ts'));
  assert.deepEqual(strays, [], 'no TypeScript sources (demo and bench included) in the tarball');
  const manifest = JSON.parse(spawnSync('tar', ['xzf', tarball, '-O', 'package/package.json'], { encoding: 'utf8' }).stdout) as {
    dependencies?: Record<string, string>;
    peerDependenciesMeta?: unknown;
  };
  assert.deepEqual(Object.keys(manifest.dependencies ?? {}).sort(), ['avsc', 'kafkajs'], 'runtime dependencies a service accepts');
  assert.deepEqual(manifest.peerDependenciesMeta, { 'prom-client': { optional: true } });
  assert.ok(
    !readFileSync(join(root, 'shared/producer/package.json'), 'utf8').includes('dist/package/lib/index.js'),
    "postpack put the workspace's package.json back",
  );

  // 2. A fresh project outside the repository installs the tarball from disk (kafkajs and avsc from the registry).
  const app = join(work, 'app');
  mkdirSync(app);
  npm(['init', '-y'], app, 60_000);
  npm(['install', tarball], app, 300_000);
  copyFileSync(join(root, 'test/fixtures/sdk-package/app.mjs'), join(app, 'app.mjs'));

  // The declarations type-check a TypeScript user's code as they are (skipLibCheck off, no
  // prom-client installed), and carry the contract's enums.
  writeFileSync(join(app, 'check.mts'), CONSUMER_TS);
  const tscArgs = ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022'];
  const types = ['--typeRoots', join(root, 'node_modules/@types'), '--types', 'node'];
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), ...tscArgs, ...types, 'check.mts'], {
    cwd: app,
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(tsc.status, 0, `tsc on a TypeScript consumer of the package:\n${tsc.stdout}\n${tsc.stderr}`);

  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
  await admin.disconnect();

  // 3. Plain node, no loader, no repository on the module path.
  const run = spawnSync(process.execPath, ['app.mjs'], {
    cwd: app,
    encoding: 'utf8',
    timeout: 120_000,
    env: { PATH: process.env.PATH, SDK_BROKERS: brokers.join(','), SDK_TOPIC: topic, SDK_EVENTS: String(EVENTS) },
  });
  assert.equal(run.status, 0, `node app.mjs failed (${run.error?.message ?? `exit ${run.status}`}):\n${run.stdout}\n${run.stderr}`);
  const lines = run.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { receipt?: Record<string, string | number>; summary?: Record<string, unknown> });
  const receipts = lines.flatMap((l) => (l.receipt ? [l.receipt] : []));
  const summary = lines.find((l) => l.summary)?.summary;
  assert.equal(receipts.length, EVENTS);
  assert.deepEqual(summary?.rejected, { instance: true, code: 'EVENT_INVALID', field: 'action' });
  assert.deepEqual(summary?.report, { undelivered: 0, undelivered_event_ids: [] });
  assert.equal(summary?.linger_ms, 5, 'PRODUCER_DEFAULTS built in from the config section');
  assert.equal(new Set(receipts.map((r) => r.event_id)).size, EVENTS, 'one event_id per event');

  // 4. Read the topic back: each receipt names the partition/offset its event is at, with its content hash.
  const byPosition = new Map(receipts.map((r) => [`${r.partition}/${r.offset}`, r]));
  const codec = createCodec();
  const consumer = kafka.consumer({ groupId: uniqueName('sdkpkg-read') });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen: Array<{ at: string; event_id: string; seq: string | undefined; key: string; hash: string }> = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`read ${seen.length} of ${EVENTS} events within 60 s`)), 60_000);
    consumer
      .run({
        eachMessage: async ({ partition, message }) => {
          const value = message.value as Buffer;
          const ev = codec.decodeSync(value);
          seen.push({
            at: `${partition}/${message.offset}`,
            event_id: ev.event_id,
            seq: ev.attributes?.seq,
            key: String(message.key),
            hash: createHash('sha256').update(value.subarray(10)).digest('hex'),
          });
          if (seen.length >= EVENTS) {
            clearTimeout(timer);
            resolve();
          }
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  assert.equal(seen.length, EVENTS, 'exactly the published events, none twice');
  for (const s of seen) {
    const r = byPosition.get(s.at);
    assert.ok(r, `a receipt for ${s.at}`);
    assert.equal(s.event_id, r.event_id);
    assert.equal(s.hash, r.content_hash, 'content_hash is the SHA-256 of the stored Avro body');
    assert.match(s.key, /^acme:user-\d$/);
  }
  assert.deepEqual(
    seen.map((s) => Number(s.seq)).sort((a, b) => a - b),
    Array.from({ length: EVENTS }, (_, i) => i),
  );
});
