import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type AuditEventInput, toRow } from '@auditstream/clickhouse';
import { Registry } from 'prom-client';
import { createIngestMetrics } from '../metrics.js';
import { createReuseTracker } from './reuse.js';

const ID = '0190a2b3-c4d5-7e6f-8a9b-0c1d2e3f4a5b';
const event = (over: Partial<AuditEventInput> = {}): AuditEventInput => ({
  event_id: ID,
  tenant_id: 'acme',
  occurred_at: 1_714_564_800_123_457,
  actor: { id: 'u-1', type: 'user' },
  action: 'auth.login',
  category: 'authentication',
  outcome: 'success',
  service: 'sso',
  attributes: { a: '1' },
  ...over,
});
const row = (offset: number, over: Partial<AuditEventInput> = {}, layout: 'legacy' | 'modern' = 'legacy') =>
  toRow(event(over), { received_at: 1_714_564_801_000, kafka_topic: 'audit.events', kafka_partition: 4, kafka_offset: offset }, layout);

for (const layout of ['legacy', 'modern'] as const) {
  test(`reuse tracker (${layout}): re-delivery is nothing, same content is a duplicate, other content a conflict`, async () => {
    const metrics = createIngestMetrics(new Registry());
    const warnings: object[] = [];
    const observe = createReuseTracker({ metrics, logger: { warn: (o: object) => void warnings.push(o) } as never });
    observe([row(5762, {}, layout)]);
    observe([row(5762, {}, layout)]); // the same message again (re-delivery)
    observe([row(5763, {}, layout)]); // the same event published twice
    observe([row(5764, { outcome: 'failure' }, layout), row(5765, { attributes: { a: '2' } }, layout)]);
    const counts = Object.fromEntries((await metrics.eventIdReuse.get()).values.map((v) => [v.labels.kind, v.value]));
    assert.deepEqual(counts, { duplicate: 1, conflict: 2 });
    assert.equal(warnings.length, 2);
    assert.deepEqual((warnings[0] as { first: unknown }).first, { topic: 'audit.events', partition: 4, offset: '5762' });
    assert.doesNotMatch(JSON.stringify(warnings), /failure|auth\.login/, 'no payload in the log');
  });
}

test('reuse tracker forgets the oldest ids beyond its window', async () => {
  const metrics = createIngestMetrics(new Registry());
  const observe = createReuseTracker({ metrics, logger: { warn() {} } as never, window: 1 });
  observe([row(1)]);
  observe([row(2, { event_id: '0190a2b3-c4d5-7e6f-8a9b-0c1d2e3f4a5c' })]);
  observe([row(3, { outcome: 'failure' })]);
  assert.equal((await metrics.eventIdReuse.get()).values.length, 0);
});

test('reuse tracker keeps exactly the newest `window` ids, oldest out first, round after round', async () => {
  const metrics = createIngestMetrics(new Registry());
  const observe = createReuseTracker({ metrics, logger: { warn() {} } as never, window: 3 });
  const id = (n: number) => `0190a2b3-c4d5-7e6f-8a9b-${String(n).padStart(12, '0')}`;
  let offset = 0;
  for (let n = 0; n < 7; n++) observe([row(offset++, { event_id: id(n) })]);
  // 4, 5 and 6 are remembered (a second message with one of them is a duplicate); 0..3 were forgotten.
  observe([row(offset++, { event_id: id(5) }), row(offset++, { event_id: id(3) })]);
  const dupes = () => metrics.eventIdReuse.get().then((m) => m.values.find((v) => v.labels.kind === 'duplicate')?.value ?? 0);
  assert.equal(await dupes(), 1);
  // 3 came back as new and pushed 4 out; 5 and 6 are still there.
  observe([row(offset++, { event_id: id(4) }), row(offset++, { event_id: id(6) })]);
  assert.equal(await dupes(), 2);
});

test('reuse tracker agrees with a plain list model on a long run of reused, re-delivered and forgotten ids', async () => {
  // A small window makes the id table small and crowded: probes collide and deletions move entries.
  const window = 5;
  const metrics = createIngestMetrics(new Registry());
  const warnings: { event_id: string; first: unknown; reused_at: unknown }[] = [];
  const observe = createReuseTracker({ metrics, logger: { warn: (o: never) => void warnings.push(o) } as never, window });
  const model: { id: string; offset: string; outcome: string }[] = [];
  const expected = { duplicate: 0, conflict: 0 };
  const expectedWarnings: unknown[] = [];
  const id = (n: number) => `0190a2b3-c4d5-7e6f-8a9b-${String(n).padStart(12, '0')}`;
  let seed = 7;
  const rand = (n: number) => {
    seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
    return (seed >>> 8) % n;
  };
  const sent: { id: string; offset: number; outcome: 'success' | 'failure' }[] = [];
  for (let offset = 0; offset < 4000; offset++) {
    // Now and then the same message again (a re-delivery), else a new message with a random id and content.
    const m =
      sent.length > 0 && rand(10) === 0
        ? (sent[rand(sent.length)] as (typeof sent)[number])
        : { id: id(rand(14)), offset, outcome: rand(3) === 0 ? ('failure' as const) : ('success' as const) };
    sent.push(m);
    observe([row(m.offset, { event_id: m.id, outcome: m.outcome })]);
    const prev = model.find((e) => e.id === m.id);
    if (!prev) {
      model.push({ id: m.id, offset: String(m.offset), outcome: m.outcome });
      if (model.length > window) model.shift();
    } else if (prev.offset !== String(m.offset)) {
      const kind = prev.outcome === m.outcome ? 'duplicate' : 'conflict';
      expected[kind]++;
      if (kind === 'conflict')
        expectedWarnings.push({
          event_id: m.id,
          first: { topic: 'audit.events', partition: 4, offset: prev.offset },
          reused_at: { topic: 'audit.events', partition: 4, offset: String(m.offset) },
        });
    }
  }
  const counts = Object.fromEntries((await metrics.eventIdReuse.get()).values.map((v) => [v.labels.kind, v.value]));
  assert.ok(expected.duplicate > 100 && expected.conflict > 100, 'the run exercises both kinds');
  assert.deepEqual(counts, expected);
  assert.deepEqual(warnings, expectedWarnings);
});

test('reuse tracker keeps an offset past 2^53 exactly', () => {
  const warnings: { first: { offset: string } }[] = [];
  const observe = createReuseTracker({ metrics: createIngestMetrics(new Registry()), logger: { warn: (o: never) => void warnings.push(o) } as never });
  const big = (offset: string, over: Partial<AuditEventInput> = {}) =>
    toRow(event(over), { received_at: 1_714_564_801_000, kafka_topic: 'audit.events', kafka_partition: 4, kafka_offset: offset }, 'legacy');
  observe([big('18446744073709551615')]);
  observe([big('18446744073709551615')]); // a re-delivery: nothing
  observe([big('9007199254740993', { outcome: 'failure' })]);
  assert.equal(warnings.length, 1);
  assert.equal(warnings[0]?.first.offset, '18446744073709551615');
});
