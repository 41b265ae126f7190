import assert from 'node:assert/strict';
import { test } from 'node:test';
import kafkajs from 'kafkajs';
import SnappyJS from 'snappyjs';
import { registerCompressionCodecs, snappyDecompress } from './compression.js';

const { CompressionCodecs, CompressionTypes } = kafkajs;

const text = Buffer.from('audit record batch '.repeat(200));

test('snappy: raw (librdkafka, franz-go) and xerial-framed (Java) batches both decompress', () => {
  const raw = Buffer.from(SnappyJS.compress(text));
  assert.deepEqual(snappyDecompress(raw), text);
  const half = text.length / 2;
  const blocks = [text.subarray(0, half), text.subarray(half)].map((b) => Buffer.from(SnappyJS.compress(b)));
  const header = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1]);
  const framed = Buffer.concat([header, ...blocks.flatMap((b) => [Buffer.from([0, 0, (b.length >> 8) & 0xff, b.length & 0xff]), b])]);
  assert.deepEqual(snappyDecompress(framed), text);
  assert.throws(() => snappyDecompress(framed.subarray(0, framed.length - 3)), { code: 'KAFKA_CORRUPT_BATCH' });
});

test('registered codecs round-trip through kafkajs, and a corrupt batch is a typed, non-retriable error', async () => {
  registerCompressionCodecs();
  const table = CompressionCodecs as unknown as Record<
    number,
    () => { compress: (e: { buffer: Buffer }) => Promise<Buffer>; decompress: (b: Buffer) => Promise<Buffer> }
  >;
  for (const type of [CompressionTypes.Snappy, CompressionTypes.LZ4]) {
    const codec = table[type]?.();
    assert.ok(codec, `codec ${type} registered`);
    assert.deepEqual(await codec.decompress(await codec.compress({ buffer: text })), text);
    await assert.rejects(codec.decompress(Buffer.from('not compressed at all')), { code: 'KAFKA_CORRUPT_BATCH', retriable: false });
  }
  const zstd = table[CompressionTypes.ZSTD]?.();
  await assert.rejects(zstd!.compress({ buffer: text }), { code: 'CONFIG_INVALID' });
});
