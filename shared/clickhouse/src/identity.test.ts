import assert from 'node:assert/strict';
import { test } from 'node:test';
import { contentDigest } from './identity.js';
import { EVENT_CONTENT_COLUMNS, type EventRow, toRow } from './rows.js';

const row = (layout: 'legacy' | 'modern') =>
  toRow(
    {
      event_id: '0190a3b0-0000-7000-8000-000000000001',
      tenant_id: 'acme',
      occurred_at: 1_714_564_800_123_457,
      actor: { id: 'u-1', type: 'user', name: 'Ann', session_id: null, ip: '2001:db8::1', user_agent: 'curl/8' },
      action: 'document.read',
      category: 'resource_access',
      outcome: 'denied',
      reason: 'no_permission',
      service: 'docs',
      host: null,
      region: 'eu-west-1',
      resource: { type: 'document', id: 'doc-9', name: null },
      request_id: 'r-1',
      trace_id: null,
      severity: null,
      attributes: { z: '1', a: 'x' },
    },
    { received_at: 1_714_564_801_250, kafka_topic: 'audit.events', kafka_partition: 3, kafka_offset: 7, severity: 'high' },
    layout,
  );

test('contentDigest: every event content column, the time and the attributes change it; source and enrichment do not', () => {
  for (const layout of ['legacy', 'modern'] as const) {
    const base = row(layout);
    const digest = contentDigest(base);
    for (const c of EVENT_CONTENT_COLUMNS) assert.notEqual(contentDigest({ ...base, [c]: `${String(base[c])}!` } as EventRow), digest, `${layout}: ${c}`);
    const later = layout === 'modern' ? { ...base, occurred_at: '2024-05-01 12:00:00.123458' } : { ...base, occurred_at_us: 123_458 };
    assert.notEqual(contentDigest(later as EventRow), digest, `${layout}: occurred_at`);
    const attrs = layout === 'modern' ? { ...base, attributes: { z: '2', a: 'x' } } : { ...base, attr_values: ['x', '2'] };
    assert.notEqual(contentDigest(attrs as EventRow), digest, `${layout}: attributes`);
    const elsewhere = { ...base, kafka_offset: '8', kafka_partition: 4, geo_country: 'DE', received_at: base.received_at };
    assert.equal(contentDigest(elsewhere as EventRow), digest, `${layout}: the same content from another message`);
  }
});

test('contentDigest: text moved across a field boundary changes it (fields and attributes are delimited)', () => {
  const base = row('legacy');
  const moved = (over: Partial<EventRow>) => contentDigest({ ...base, ...over } as EventRow);
  assert.notEqual(moved({ actor_id: 'u-1x', actor_type: 'user' } as never), moved({ actor_id: 'u-1', actor_type: 'xuser' } as never));
  assert.notEqual(moved({ attr_keys: ['ab'], attr_values: ['c'] } as never), moved({ attr_keys: ['a'], attr_values: ['bc'] } as never));
  assert.notEqual(moved({ attr_keys: ['a', 'b'], attr_values: ['', ''] } as never), moved({ attr_keys: ['a'], attr_values: ['b'] } as never));
  assert.equal(moved({}), contentDigest(row('legacy')), 'equal content, equal digest');
});
