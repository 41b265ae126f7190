import { AuditstreamError } from '@auditstream/core';

/**
 * The two wire formats auditstream reads and writes:
 * - Avro single-object encoding: C3 01, the writer schema's 8-byte little-endian
 *   CRC-64-AVRO fingerprint, then the Avro binary body (10 header bytes). Self-describing
 *   without a registry; the default.
 * - Confluent framing: 00, the 4-byte big-endian registry schema id, then the body (5 bytes).
 */
export type WireFormat = 'single-object' | 'confluent';

export const SINGLE_OBJECT_MARKER_0 = 0xc3;
export const SINGLE_OBJECT_MARKER_1 = 0x01;
export const SINGLE_OBJECT_HEADER_BYTES = 10;
export const CONFLUENT_MAGIC = 0x00;
export const CONFLUENT_HEADER_BYTES = 5;

export type Frame =
  | { format: 'single-object'; bodyOffset: 10 /** Writer fingerprint, hex of the 8 header bytes (little-endian as on the wire). */; fingerprint: string }
  | { format: 'confluent'; bodyOffset: 5; schemaId: number };

/** Reads the framing header (no decoding). Throws CODEC_NOT_AVRO or CODEC_TRUNCATED. */
export function readFrame(bytes: Uint8Array): Frame {
  const format = detectFormat(bytes);
  if (format === 'single-object') {
    return { format, bodyOffset: 10, fingerprint: Buffer.from(bytes.buffer, bytes.byteOffset + 2, 8).toString('hex') };
  }
  return { format, bodyOffset: 5, schemaId: asBuffer(bytes).readUInt32BE(1) };
}

/** A Buffer view of any Uint8Array (no copy). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The Avro body of a framed payload (a view, no copy): what the content hash covers. */
export function payloadBody(bytes: Uint8Array): Buffer {
  const offset = detectFormat(bytes) === 'single-object' ? SINGLE_OBJECT_HEADER_BYTES : CONFLUENT_HEADER_BYTES;
  return Buffer.from(bytes.buffer, bytes.byteOffset + offset, bytes.length - offset);
}

export function detectFormat(bytes: Uint8Array): WireFormat {
  if (bytes.length === 0) throw new AuditstreamError('CODEC_TRUNCATED', 'payload is empty: expected an Avro single-object or Confluent-framed message');
  const b0 = bytes[0];
  if (b0 === SINGLE_OBJECT_MARKER_0) {
    if (bytes.length < 2) throw truncatedHeader('single-object', bytes.length);
    if (bytes[1] !== SINGLE_OBJECT_MARKER_1) {
      throw new AuditstreamError('CODEC_NOT_AVRO', `payload starts with C3 but not the single-object marker C3 01 (second byte is ${hex(bytes[1])})`);
    }
    if (bytes.length < SINGLE_OBJECT_HEADER_BYTES) throw truncatedHeader('single-object', bytes.length);
    return 'single-object';
  }
  if (b0 === CONFLUENT_MAGIC) {
    if (bytes.length < CONFLUENT_HEADER_BYTES) throw truncatedHeader('Confluent', bytes.length);
    return 'confluent';
  }
  const hint = b0 === 0x7b ? ' (it looks like JSON)' : b0 === 0x4f ? ' (it looks like an Avro object container file, not a message)' : '';
  throw new AuditstreamError(
    'CODEC_NOT_AVRO',
    `payload is not Avro: first byte ${hex(b0)} is neither the single-object marker C3 01 nor the Confluent magic byte 00${hint}`,
  );
}

function truncatedHeader(kind: string, len: number): AuditstreamError {
  const need = kind === 'Confluent' ? CONFLUENT_HEADER_BYTES : SINGLE_OBJECT_HEADER_BYTES;
  return new AuditstreamError('CODEC_TRUNCATED', `payload is truncated: ${len} bytes, shorter than the ${need}-byte ${kind} header`);
}

function hex(b: number | undefined): string {
  return `0x${(b ?? 0).toString(16).padStart(2, '0').toUpperCase()}`;
}
