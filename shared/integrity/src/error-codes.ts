/**
 * Every code the hash chain, checkpoints, keys and the verifier raises as an AuditstreamError: the closed list (codes are metrics labels
 * and are named by tests and docs, so they are never renamed). Codes every package may raise
 * (`CORE_ERROR_CODES`) and codes of the packages this one builds on are not repeated here;
 * test/deploy/error-codes.test.ts checks that each code raised here is listed.
 */
export const INTEGRITY_ERROR_CODES = [
  'INTEGRITY_CHAIN_INPUT',
  'INTEGRITY_CONFIG',
  'INTEGRITY_DLQ_INVALID',
  'INTEGRITY_KEY_INVALID',
  'INTEGRITY_KEY_MISSING',
  'INTEGRITY_KEY_UNREADABLE',
  'INTEGRITY_READ_FAILED',
  'INTEGRITY_TREE_INCOMPLETE',
  'MANIFEST_INVALID',
  'KEYS_EXIST',
  'KEYS_WRITE_FAILED',
  'ABORTED',
] as const;
export type IntegrityErrorCode = (typeof INTEGRITY_ERROR_CODES)[number];
