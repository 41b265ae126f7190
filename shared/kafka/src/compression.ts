/**
 * Snappy, LZ4 and zstd record batches for kafkajs consumers. kafkajs decodes only gzip itself; a
 * producer whose client compresses with another codec (franz-go defaults to snappy, librdkafka and
 * the Java client offer all three) would otherwise stop every consumer of the topic at that batch.
 * Pure-JS codecs: no native build on install. zstd is decompress-only (our producers never use it).
 */
import { AuditstreamError } from '@auditstream/core';
import kafkajs from 'kafkajs';
import * as lz4 from 'lz4js';
import SnappyJS from 'snappyjs';

// kafkajs is CommonJS: its codec table is not a named ESM export.
const { CompressionCodecs, CompressionTypes } = kafkajs;

import { decompress as zstdDecompress } from 'fzstd';

// The Java client (snappy-java) writes "xerial" framing: this magic, two int32 versions, then
// blocks of [int32 length][raw snappy]. librdkafka and franz-go write raw snappy.
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_BYTES = 16;

export function snappyDecompress(input: Buffer): Buffer {
  if (input.length < XERIAL_HEADER_BYTES || !input.subarray(0, XERIAL_MAGIC.length).equals(XERIAL_MAGIC)) {
    return Buffer.from(SnappyJS.uncompress(input));
  }
  const blocks: Buffer[] = [];
  let at = XERIAL_HEADER_BYTES;
  while (at < input.length) {
    if (at + 4 > input.length) throw corrupt('snappy');
    const size = input.readInt32BE(at);
    at += 4;
    if (size < 0 || at + size > input.length) throw corrupt('snappy');
    blocks.push(Buffer.from(SnappyJS.uncompress(input.subarray(at, at + size))));
    at += size;
  }
  return Buffer.concat(blocks);
}

function corrupt(codec: string): AuditstreamError {
  return new AuditstreamError('KAFKA_CORRUPT_BATCH', `a ${codec} record batch is corrupt`, { retriable: false });
}

function guarded(codec: string, fn: (b: Buffer) => Buffer): (b: Buffer) => Promise<Buffer> {
  return async (b) => {
    try {
      return fn(b);
    } catch (cause) {
      if (cause instanceof AuditstreamError) throw cause;
      throw new AuditstreamError('KAFKA_CORRUPT_BATCH', `a ${codec} record batch could not be decompressed`, { retriable: false, cause });
    }
  };
}

interface Codec {
  compress: (encoder: { buffer: Buffer }) => Promise<Buffer>;
  decompress: (buffer: Buffer) => Promise<Buffer>;
}

const CODECS: Record<number, () => Codec> = {
  [CompressionTypes.Snappy]: () => ({
    compress: async (encoder) => Buffer.from(SnappyJS.compress(encoder.buffer)),
    decompress: guarded('snappy', snappyDecompress),
  }),
  [CompressionTypes.LZ4]: () => ({
    compress: async (encoder) => Buffer.from(lz4.compress(encoder.buffer)),
    decompress: guarded('lz4', (b) => Buffer.from(lz4.decompress(b))),
  }),
  [CompressionTypes.ZSTD]: () => ({
    compress: async () => {
      throw new AuditstreamError('CONFIG_INVALID', 'zstd is supported for reading only; produce with none, gzip, snappy or lz4', { field: 'compression' });
    },
    decompress: guarded('zstd', (b) => Buffer.from(zstdDecompress(b))),
  }),
};

/** Registers the codecs in kafkajs (a process-wide table); idempotent. Consumers call it at build. */
export function registerCompressionCodecs(): void {
  const table = CompressionCodecs as unknown as Record<number, () => Codec>;
  for (const [type, codec] of Object.entries(CODECS)) table[Number(type)] = codec;
}
