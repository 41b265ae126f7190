/**
 * Every code the event contract raises as an AuditstreamError: the closed list (codes are metrics labels
 * and are named by tests and docs, so they are never renamed). Codes every package may raise
 * (`CORE_ERROR_CODES`) and codes of the packages this one builds on are not repeated here;
 * test/deploy/error-codes.test.ts checks that each code raised here is listed.
 */
export const SCHEMAS_ERROR_CODES = ['EVENT_INVALID', 'EVENT_TOO_LARGE', 'TIMESTAMP_INVALID'] as const;
export type SchemasErrorCode = (typeof SCHEMAS_ERROR_CODES)[number];
