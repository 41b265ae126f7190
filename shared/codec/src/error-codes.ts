/**
 * Every code the codec (framing, Avro body, schema registry) raises as an AuditstreamError: the closed list (codes are metrics labels
 * and are named by tests and docs, so they are never renamed). Codes every package may raise
 * (`CORE_ERROR_CODES`) and codes of the packages this one builds on are not repeated here;
 * test/deploy/error-codes.test.ts checks that each code raised here is listed.
 */
export const CODEC_ERROR_CODES = [
  'CODEC_NOT_AVRO',
  'CODEC_TRUNCATED',
  'CODEC_CORRUPT',
  'CODEC_UNKNOWN_FINGERPRINT',
  'CODEC_UNKNOWN_SCHEMA_ID',
  'CODEC_SCHEMA_NOT_LOADED',
  'CODEC_NOT_READY',
  'CODEC_INVALID_EVENT',
  'CODEC_INCOMPATIBLE_SCHEMA',
  'CODEC_REGISTRY_UNREACHABLE',
  'CODEC_REGISTRY_UNAUTHORIZED',
  'CODEC_REGISTRY_REJECTED',
  'CODEC_REGISTRY_INCOMPATIBLE',
] as const;
export type CodecErrorCode = (typeof CODEC_ERROR_CODES)[number];
