export { type AuditCodec, type CodecOptions, createCodec, type EncodedSlice } from './codec.js';
export { CODEC_ERROR_CODES, type CodecErrorCode } from './error-codes.js';
export { crc64Avro, parsingCanonicalForm, schemaFingerprint } from './fingerprint.js';
export {
  asBuffer,
  CONFLUENT_HEADER_BYTES,
  CONFLUENT_MAGIC,
  detectFormat,
  type Frame,
  payloadBody,
  readFrame,
  SINGLE_OBJECT_HEADER_BYTES,
  type WireFormat,
} from './frame.js';
export { createRegistryClient, type RegistryClientOptions, type SchemaRegistryClient } from './registry.js';
