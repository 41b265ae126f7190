import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chunkByBytes, SEND_MAX_BYTES } from './repartition.js';

test('copies go out in requests bounded by bytes, in order, each message once', () => {
  const messages = Array.from({ length: 12_000 }, (_, i) => ({ partition: i % 6, key: `t:user-${i}`, value: Buffer.alloc(400, i % 256) }));
  const chunks = chunkByBytes(messages, SEND_MAX_BYTES);
  assert.ok(chunks.length > 1, 'a backlog batch of ~5 MB is split');
  assert.deepEqual(chunks.flat(), messages, 'every message once, in order');
  for (const c of chunks) {
    const bytes = c.reduce((s, m) => s + 400 + Buffer.byteLength(String(m.key)) + 64, 0);
    assert.ok(bytes <= SEND_MAX_BYTES, `a request holds ${bytes} bytes`);
  }
  assert.ok(SEND_MAX_BYTES < 1024 * 1024, "under Kafka's default message.max.bytes");
});

test('a message larger than the bound goes alone; nothing in, nothing out', () => {
  const big = { value: Buffer.alloc(SEND_MAX_BYTES + 1) };
  const small = { value: Buffer.alloc(10) };
  assert.deepEqual(chunkByBytes([small, big, small], SEND_MAX_BYTES), [[small], [big], [small]]);
  assert.deepEqual(chunkByBytes([], SEND_MAX_BYTES), []);
});
