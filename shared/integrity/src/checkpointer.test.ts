import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createMetricsRegistry } from '@auditstream/observability';
import { type Checkpoint, checkpointHash, GENESIS_CHECKPOINT_HASH, verifyCheckpoint } from './checkpoint.js';
import { checkpointMessageKey, checkpointMessageValue, createCheckpointer, kafkaCheckpointPublisher, parseCheckpointMessage } from './checkpointer.js';
import { FakeStore } from './fake-store.test-helper.js';
import { generateSigningKey, loadPublicKeys, loadSigningKey } from './keys.js';
import { checkCheckpoints } from './partition-verifier.js';

const pair = generateSigningKey();
const key = loadSigningKey(pair.privatePem, 'test');
const keys = loadPublicKeys([pair.publicPem]);
const head = (offset: number) => ({ offset, chain_seq: offset + 1, hash: offset.toString(16).padStart(64, '0') });

function setup(opts: { everyEvents?: number; intervalMs?: number; failPublish?: () => boolean } = {}) {
  const store = new FakeStore();
  const published: Checkpoint[] = [];
  let clock = 1_700_000_000_000;
  const registry = createMetricsRegistry({ service: 'test', defaultMetrics: false });
  const cp = createCheckpointer({
    store,
    publisher: {
      async publish(c) {
        if (opts.failPublish?.()) throw new Error('Kafka down');
        published.push(c);
      },
    },
    signingKey: key,
    everyEvents: opts.everyEvents ?? 100,
    intervalMs: opts.intervalMs ?? 60_000,
    metrics: registry,
    now: () => clock,
    tickMs: 5,
    logger: { info() {}, warn() {}, error() {} },
  });
  return {
    store,
    published,
    cp,
    registry,
    advance: (ms: number) => {
      clock += ms;
    },
  };
}

test('signs every N events, stores first then publishes, links each checkpoint to the previous one, counts them', async () => {
  const { store, published, cp, registry } = setup({ everyEvents: 100 });
  await cp.assign('audit.events', 0);
  cp.inserted('audit.events', 0, head(49), 50);
  await cp.flush('audit.events', 1); // another partition: nothing
  assert.equal(store.checkpoints.length, 0, 'below the threshold nothing is signed');
  cp.inserted('audit.events', 0, head(99), 50);
  await sleep(20);
  cp.inserted('audit.events', 0, head(149), 50);
  cp.inserted('audit.events', 0, head(199), 50); // signing is asynchronous: a backlog is covered by one checkpoint
  await sleep(20);
  assert.equal(store.checkpoints.length, 2);
  assert.deepEqual(
    store.checkpoints.map((c) => c.last_offset),
    ['99', '199'],
  );
  assert.deepEqual(published, store.checkpoints);
  const [a, b] = store.checkpoints as [Checkpoint, Checkpoint];
  assert.equal(a.prev_checkpoint_hash, GENESIS_CHECKPOINT_HASH);
  assert.equal(b.prev_checkpoint_hash, checkpointHash(a));
  assert.equal(a.chain_seq, '100');
  assert.equal(a.chain_head, head(99).hash);
  assert.ok(verifyCheckpoint(a, keys).ok);
  assert.deepEqual(checkCheckpoints(store.checkpoints, published, keys, { topic: 'audit.events', partition: 0 }).findings, []);
  assert.match(await registry.metrics(), /auditstream_ingest_checkpoints_signed_total\{[^}]*\} 2/);
  await cp.stop();
});

test('signs after the interval when fewer events came, and only when something new was stored', async () => {
  const { store, cp, advance } = setup({ everyEvents: 1000, intervalMs: 60_000 });
  cp.start();
  await cp.assign('audit.events', 3);
  cp.inserted('audit.events', 3, head(4), 5);
  await sleep(30);
  assert.equal(store.checkpoints.length, 0);
  advance(60_000);
  await sleep(30);
  assert.equal(store.checkpoints.length, 1);
  advance(120_000);
  await sleep(30);
  assert.equal(store.checkpoints.length, 1, 'nothing new: no checkpoint');
  await cp.stop();
});

test('on assignment it links to the stored last checkpoint, and never signs an offset it already covered (re-delivery)', async () => {
  const first = setup({ everyEvents: 10 });
  first.cp.inserted('audit.events', 0, head(9), 10);
  await first.cp.flush();
  const previous = first.store.checkpoints[0] as Checkpoint;
  // A new instance on the same table: the re-delivered batch (offsets ≤ 9) signs nothing.
  const second = setup({ everyEvents: 10 });
  second.store.checkpoints.push(previous);
  await second.cp.assign('audit.events', 0);
  second.cp.inserted('audit.events', 0, head(9), 10);
  await second.cp.flush();
  assert.equal(second.store.checkpoints.length, 1);
  second.cp.inserted('audit.events', 0, head(19), 10);
  await second.cp.flush();
  assert.equal(second.store.checkpoints.length, 2);
  assert.equal(second.store.checkpoints[1]?.prev_checkpoint_hash, checkpointHash(previous));
});

test('a store failure signs nothing new until the table was re-read; a write that landed anyway is kept and published, not forked', async () => {
  const { store, published, cp, registry } = setup({ everyEvents: 10 });
  store.failNextCheckpointAfterWrite = true;
  cp.inserted('audit.events', 0, head(9), 10);
  await cp.flush();
  assert.equal(store.checkpoints.length, 1);
  assert.equal(published.length, 0);
  cp.inserted('audit.events', 0, head(19), 10);
  await cp.flush();
  assert.equal(store.checkpoints.length, 2);
  assert.equal(published.length, 2, 'the landed checkpoint was published after re-reading the table');
  assert.equal(store.checkpoints[1]?.prev_checkpoint_hash, checkpointHash(store.checkpoints[0] as Checkpoint));
  store.failNextCheckpoint = true;
  cp.inserted('audit.events', 0, head(29), 10);
  await cp.flush();
  assert.equal(store.checkpoints.length, 2);
  await cp.flush();
  assert.equal(store.checkpoints.length, 3);
  assert.deepEqual(checkCheckpoints(store.checkpoints, published, keys, { topic: 'audit.events', partition: 0 }).findings, []);
  assert.match(await registry.metrics(), /auditstream_ingest_checkpoint_failures_total\{stage="store"[^}]*\} 2/);
});

test('a publish failure keeps the checkpoint stored and retries publishing on the next tick', async () => {
  let down = true;
  const { store, published, cp, registry } = setup({ everyEvents: 10, failPublish: () => down });
  cp.start();
  cp.inserted('audit.events', 0, head(9), 10);
  await sleep(30);
  assert.equal(store.checkpoints.length, 1);
  assert.equal(published.length, 0);
  assert.match(await registry.metrics(), /auditstream_ingest_checkpoint_failures_total\{stage="publish"/);
  down = false;
  await sleep(30);
  assert.equal(published.length, 1);
  await cp.stop();
});

test('checkpoint messages: key topic:partition, JSON value that parses back to the same checkpoint', async () => {
  const { store, cp } = setup({ everyEvents: 1 });
  cp.inserted('audit.events', 5, head(0), 1);
  await cp.flush();
  const c = store.checkpoints[0] as Checkpoint;
  assert.equal(checkpointMessageKey(c), 'audit.events:5');
  assert.deepEqual(parseCheckpointMessage(Buffer.from(checkpointMessageValue(c))), c);
  assert.equal(parseCheckpointMessage('{"topic":1}'), undefined);
  assert.equal(parseCheckpointMessage('not json'), undefined);
  const sent: unknown[] = [];
  const producer = {
    send: async (r: unknown) => {
      sent.push(r);
      return [];
    },
  };
  await kafkaCheckpointPublisher(producer, 'audit.checkpoints').publish(c);
  assert.deepEqual(sent, [{ topic: 'audit.checkpoints', acks: -1, timeout: 30_000, messages: [{ key: 'audit.events:5', value: checkpointMessageValue(c) }] }]);
});
