/**
 * Every code field encryption and erasure raises as an AuditstreamError: the closed list (codes are metrics labels
 * and are named by tests and docs, so they are never renamed). Codes every package may raise
 * (`CORE_ERROR_CODES`) and codes of the packages this one builds on are not repeated here;
 * test/deploy/error-codes.test.ts checks that each code raised here is listed.
 */
export const CRYPTO_ERROR_CODES = [
  'CRYPTO_KEY_MISSING',
  'CRYPTO_KEY_INVALID',
  'CRYPTO_MASTER_KEY_UNKNOWN',
  'CRYPTO_ENVELOPE_INVALID',
  'CRYPTO_DECRYPT_FAILED',
  'CRYPTO_UNWRAP_FAILED',
  'CRYPTO_READ_ONLY',
  'ERASE_FAILED',
  'ERASE_INCOMPLETE',
  'ERASE_TIMEOUT',
  'LEGAL_HOLD',
] as const;
export type CryptoErrorCode = (typeof CRYPTO_ERROR_CODES)[number];
