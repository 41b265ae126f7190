import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMetricsRegistry } from '@auditstream/observability';
import { canonicalEntryText, entryHash, GENESIS_HASH } from './chain.js';
import { createChainedInsert } from './chained-insert.js';
import { createChainer } from './chainer.js';
import { signCheckpoint } from './checkpoint.js';
import { entryHashIn, storedEntryHash } from './entry.js';
import { FakeStore, makeRow } from './fake-store.test-helper.js';
import { chainContentFromRow } from './fields.js';
import { canonicalJson } from './jcs.js';
import { generateSigningKey, loadSigningKey } from './keys.js';
import { PartitionVerifier } from './partition-verifier.js';

const rowsFor = (from: number, to: number, opts: { partition?: number; geo?: string } = {}) => {
  const out = [];
  for (let o = from; o <= to; o++) out.push(makeRow(o, opts));
  return out;
};

function verifyStored(store: FakeStore, dlq: number[] = [], partition = 0) {
  const v = new PartitionVerifier({ partition });
  const rows = store.chainRows('audit.events', partition);
  let d = 0;
  const sorted = [...dlq].sort((a, b) => a - b);
  for (const r of rows) {
    while (d < sorted.length && BigInt(sorted[d] as number) < BigInt(r.fields.kafka_offset)) v.pushDlq(BigInt(sorted[d++] as number));
    v.push(r);
  }
  while (d < sorted.length) v.pushDlq(BigInt(sorted[d++] as number));
  return v.finish();
}

test('the fast canonical encoder equals RFC 8785 canonicalJson of the entry', () => {
  for (const o of [0, 1, 7, 12345]) {
    const fields = { ...chainContentFromRow(makeRow(o)), chain_seq: String(o + 1), prev_hash: GENESIS_HASH };
    const { producer_id: _id, producer_seq: _seq, ...hashedByFormat1 } = fields;
    assert.equal(canonicalEntryText(fields), canonicalJson({ v: 1, ...hashedByFormat1 }));
  }
});

test('a new partition starts at genesis with chain_seq 1, and each entry links to the one before', async () => {
  const store = new FakeStore();
  const chainer = createChainer({ store });
  const rows = rowsFor(0, 9);
  const links = await chainer.chainRows(rows);
  assert.equal(links[0]?.prev_hash, GENESIS_HASH);
  assert.equal(links[0]?.chain_seq, 1n);
  for (let i = 1; i < 10; i++) {
    assert.equal(links[i]?.prev_hash, links[i - 1]?.hash);
    assert.equal(links[i]?.chain_seq, BigInt(i + 1));
    assert.equal(links[i]?.status, 'new');
  }
  const r3 = rows[3];
  assert.ok(r3);
  assert.equal(r3.hash, entryHashIn(2, { ...chainContentFromRow(r3), chain_seq: r3.chain_seq, prev_hash: r3.prev_hash }), 'format 2 is the default');
  await store.insert(rows);
  assert.deepEqual(verifyStored(store).findings, []);
});

test('after a crash, re-delivered messages get exactly the stored chain values and the chain continues after the head', async () => {
  const store = new FakeStore();
  const first = createChainer({ store });
  const batch = rowsFor(0, 19);
  await first.chainRows(batch);
  await store.insert(batch); // stored up to offset 19 ...
  // ... but the process died before committing past offset 11: a new instance resumes at 12.
  const registry = createMetricsRegistry({ service: 'test', defaultMetrics: false });
  const second = createChainer({ store, metrics: registry });
  const head = await second.loadHead('audit.events', 0);
  assert.equal(head?.offset, 19n);
  const again = rowsFor(12, 29);
  const links = await second.chainRows(again);
  for (let i = 0; i < 8; i++) {
    const orig = batch[12 + i];
    assert.equal(links[i]?.status, 'stored');
    assert.equal(again[i]?.hash, orig?.hash);
    assert.equal(again[i]?.prev_hash, orig?.prev_hash);
    assert.equal(again[i]?.chain_seq, orig?.chain_seq);
    assert.deepEqual(again[i], orig, 'the re-delivered row is byte-identical');
  }
  assert.equal(links[8]?.status, 'new');
  assert.equal(links[8]?.prev_hash, batch[19]?.hash);
  assert.equal(links[8]?.chain_seq, 21n);
  await store.insert(again);
  const rep = verifyStored(store);
  assert.deepEqual(rep.findings, []);
  assert.equal(rep.entries, 30);
  assert.equal(rep.duplicates, 8);
  assert.match(await registry.metrics(), /auditstream_ingest_chain_redelivered_total\{status="stored"[^}]*\} 8/);
});

test('a re-delivered message whose enrichment changed keeps the stored values and is flagged mismatch (not to be inserted)', async () => {
  const store = new FakeStore();
  const a = createChainer({ store });
  const batch = rowsFor(0, 9);
  await a.chainRows(batch);
  await store.insert(batch);
  const b = createChainer({ store });
  const again = rowsFor(5, 12);
  const changed = makeRow(7, { geo: 'FR' });
  again[2] = changed;
  const links = await b.chainRows(again);
  assert.equal(links[2]?.status, 'mismatch');
  assert.equal(changed.hash, batch[7]?.hash, 'stored values are returned');
  assert.equal(links[3]?.status, 'stored');
  const insertable = again.filter((_, i) => links[i]?.status !== 'mismatch');
  await store.insert(insertable);
  assert.deepEqual(verifyStored(store).findings, []);
});

test('offsets lost by a partial insert are re-chained to the same values; the stored rows around them still link', async () => {
  const store = new FakeStore();
  const a = createChainer({ store });
  const batch = rowsFor(0, 9);
  await a.chainRows(batch);
  await store.insert(batch.filter((r) => r.kafka_offset !== '5' && r.kafka_offset !== '6'));
  const b = createChainer({ store });
  const again = rowsFor(4, 9);
  const links = await b.chainRows(again);
  assert.deepEqual(
    links.map((l) => l.status),
    ['stored', 'new', 'new', 'stored', 'stored', 'stored'],
  );
  assert.equal(again[1]?.hash, batch[5]?.hash);
  assert.equal(again[2]?.hash, batch[6]?.hash);
  await store.insert(again);
  assert.deepEqual(verifyStored(store).findings, []);
});

test('the chained insert re-chains after a refused row: it gets no entry and its successor links to the last stored one', async () => {
  const store = new FakeStore();
  const chainer = createChainer({ store });
  const bad = '6';
  const insert = createChainedInsert({
    chainer,
    insert: async (rows) => {
      if (rows.some((r) => r.kafka_offset === bad)) throw Object.assign(new Error('data error'), { code: 'CLICKHOUSE_DATA' });
      await store.insert(rows);
    },
  });
  const rows = rowsFor(0, 11);
  // The sink's bisection: the whole batch, then left before right, down to the bad row.
  const dlq: number[] = [];
  async function write(lo: number, hi: number): Promise<void> {
    if (hi <= lo) return;
    try {
      await insert(rows.slice(lo, hi));
    } catch {
      if (hi - lo === 1) {
        dlq.push(Number(rows[lo]?.kafka_offset));
        return;
      }
      const mid = lo + Math.ceil((hi - lo) / 2);
      await write(lo, mid);
      await write(mid, hi);
    }
  }
  await write(0, rows.length);
  assert.deepEqual(dlq, [6]);
  const stored = store.chainRows();
  assert.equal(stored.length, 11);
  const after = stored.find((r) => r.fields.kafka_offset === '7');
  const before = stored.find((r) => r.fields.kafka_offset === '5');
  assert.equal(after?.fields.prev_hash, before?.hash);
  assert.equal(after?.fields.chain_seq, '7');
  assert.deepEqual(verifyStored(store, dlq).findings, []);
  // Without the dead-letter decision the skipped offset is reported.
  assert.equal(verifyStored(store).findings[0]?.kind, 'unexplained_gap');
});

test('a failed INSERT retried as a whole reproduces the same chain values', async () => {
  const store = new FakeStore();
  const chainer = createChainer({ store });
  let fail = 0;
  const insert = createChainedInsert({
    chainer,
    insert: async (rows) => {
      if (fail-- > 0) throw new Error('ClickHouse unavailable');
      await store.insert(rows);
    },
  });
  await insert(rowsFor(0, 4));
  fail = 2;
  const rows = rowsFor(5, 9);
  await assert.rejects(insert(rows));
  await assert.rejects(insert(rows));
  const firstHashes = rows.map((r) => r.hash);
  await insert(rows);
  assert.deepEqual(
    rows.map((r) => r.hash),
    firstHashes,
  );
  assert.deepEqual(verifyStored(store).findings, []);
});

test('a forged row stored at a future offset is not trusted: the real message is chained anew (conflict)', async () => {
  const store = new FakeStore();
  const a = createChainer({ store });
  const batch = rowsFor(0, 4);
  await a.chainRows(batch);
  await store.insert(batch);
  const forged = makeRow(7, { eventId: '0190a000-0000-7000-8000-999999999999' });
  forged.chain_seq = '6';
  forged.prev_hash = batch[4]?.hash as string;
  forged.hash = entryHash({ ...chainContentFromRow(forged), chain_seq: '6', prev_hash: forged.prev_hash });
  await store.insert([forged]);
  const b = createChainer({ store });
  const again = rowsFor(5, 8);
  const links = await b.chainRows(again);
  assert.deepEqual(
    links.map((l) => l.status),
    ['new', 'new', 'conflict', 'new'],
  );
  assert.equal(again[2]?.chain_seq, '8');
  assert.equal(again[2]?.prev_hash, again[1]?.hash);
});

test('when rows covered by a signed checkpoint are missing, the chain continues from the checkpoint, not over the hole', async () => {
  const store = new FakeStore();
  const a = createChainer({ store });
  const batch = rowsFor(0, 9);
  await a.chainRows(batch);
  await store.insert(batch.slice(0, 5)); // rows 5..9 were deleted after being checkpointed
  const key = loadSigningKey(generateSigningKey().privatePem, 'test');
  const last = batch[9];
  assert.ok(last);
  store.checkpoints.push(
    signCheckpoint(key, {
      topic: 'audit.events',
      partition: 0,
      last_offset: '9',
      chain_seq: last.chain_seq,
      chain_head: last.hash,
      created_at_s: 1,
      prev_checkpoint_hash: '0'.repeat(64),
    }),
  );
  const errors: string[] = [];
  const b = createChainer({ store, logger: { info() {}, warn() {}, error: (_o, m) => errors.push(m ?? '') } });
  const head = await b.loadHead('audit.events', 0);
  assert.equal(head?.source, 'checkpoint');
  const next = rowsFor(10, 10);
  const links = await b.chainRows(next);
  assert.equal(links[0]?.prev_hash, last.hash);
  assert.equal(links[0]?.chain_seq, 11n);
  assert.match(errors.join('\n'), /missing from ClickHouse/);
});

test('calls for one partition are serialized, partitions are independent, and bad input is refused', async () => {
  const store = new FakeStore();
  const chainer = createChainer({ store });
  const p0 = rowsFor(0, 5);
  const p1 = rowsFor(0, 5, { partition: 1 });
  const links = await Promise.all([...p0, ...p1].map((r) => chainer.next(r.kafka_topic, r.kafka_partition, r.kafka_offset, chainContentFromRow(r))));
  for (let i = 0; i < 6; i++) {
    assert.equal(links[i]?.chain_seq, BigInt(i + 1));
    assert.equal(links[6 + i]?.chain_seq, BigInt(i + 1));
  }
  assert.notEqual(links[0]?.hash, links[6]?.hash);
  assert.equal(chainer.head('audit.events', 1)?.offset, 5n);
  await assert.rejects(chainer.next('audit.events', 0, 99, chainContentFromRow(makeRow(100))), /another topic, partition or offset/);
});

test('after re-delivering part of the stored range, a jump past the rest links to the entry stored just before it', async () => {
  const store = new FakeStore();
  const a = createChainer({ store });
  const first = rowsFor(0, 29);
  await a.chainRows(first);
  await store.insert(first);
  const b = createChainer({ store });
  const again = rowsFor(5, 9);
  await b.chainRows(again); // re-delivered 5..9 (stored values) ...
  const next = rowsFor(30, 31); // ... then the consumer moves on past 10..29
  const links = await b.chainRows(next);
  assert.equal(links[0]?.prev_hash, first[29]?.hash);
  assert.equal(links[0]?.chain_seq, 31n);
  await store.insert([...again, ...next]);
  assert.deepEqual(verifyStored(store).findings, []);
});

test('chained insert: the checkpointer gets each partition’s highest offset (10 above 9, however the rows are mixed) and row count', async () => {
  const store = new FakeStore();
  const chainer = createChainer({ store });
  const calls: { partition: number; offset: string; count: number; chain_seq: string }[] = [];
  const checkpointer = {
    inserted: (_t: string, partition: number, head: { offset: string; chain_seq: string }, count: number) =>
      calls.push({ partition, offset: head.offset, chain_seq: head.chain_seq, count }),
  } as unknown as Parameters<typeof createChainedInsert>[0]['checkpointer'];
  const insert = createChainedInsert({ chainer, checkpointer, insert: (rows) => store.insert(rows) });
  const p0 = rowsFor(0, 10);
  const p1 = rowsFor(95, 100, { partition: 1 });
  // Interleaved partitions; partition 1 out of offset order (the chainer sorts per partition).
  const mixed = [p0[0], p1[5], p0[1], p0[2], p1[0], ...p0.slice(3, 9), p1[4], p1[1], p0[9], p1[2], p1[3], p0[10]];
  await insert(mixed as typeof p0);
  calls.sort((a, b) => a.partition - b.partition);
  assert.deepEqual(calls, [
    { partition: 0, offset: '10', chain_seq: '11', count: 11 },
    { partition: 1, offset: '100', chain_seq: '6', count: 6 },
  ]);
});

test('a chain may switch entry format at any entry: format 1 rows, then format 2 after an upgrade, verify as one chain', async () => {
  const store = new FakeStore();
  const before = createChainer({ store, format: 1 });
  const batch = rowsFor(0, 9);
  await before.chainRows(batch);
  await store.insert(batch);
  const fieldsOf = (r: (typeof batch)[number]) => ({ ...chainContentFromRow(r), chain_seq: r.chain_seq, prev_hash: r.prev_hash });
  assert.ok(
    batch.every((r) => storedEntryHash(fieldsOf(r), r.hash).format === 1),
    'format 1 when configured',
  );
  // The upgraded ingest resumes below the stored head: the re-delivered rows are its stored format 1 entries.
  const after = createChainer({ store, format: 2 });
  const again = rowsFor(5, 14);
  const links = await after.chainRows(again);
  assert.deepEqual(
    links.map((l) => l.status),
    [...Array(5).fill('stored'), ...Array(5).fill('new')],
  );
  assert.ok(
    again.slice(5).every((r) => storedEntryHash(fieldsOf(r), r.hash).format === 2),
    'new entries in format 2',
  );
  assert.equal(again[5]?.prev_hash, batch[9]?.hash, 'the first format 2 entry links to the last format 1 entry');
  await store.insert(again);
  const rep = verifyStored(store);
  assert.deepEqual(rep.findings, []);
  assert.equal(rep.entries, 15);
});

test('format 2 makes an edit of the producer columns evident; format 1 never covered them', async () => {
  for (const format of [1, 2] as const) {
    const store = new FakeStore();
    const batch = rowsFor(0, 4);
    await createChainer({ store, format }).chainRows(batch);
    await store.insert(batch);
    const stored = store.rows[2];
    assert.ok(stored, 'row 2 is stored');
    stored.producer_id = '0190a000-0000-7000-8000-0000000000ff';
    stored.producer_seq = '41';
    const findings = verifyStored(store).findings;
    if (format === 2) assert.match(JSON.stringify(findings), /modified/, 'format 2: the edited row is reported');
    else assert.deepEqual(findings, [], 'format 1: not part of the entry');
  }
});
