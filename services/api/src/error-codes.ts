/**
 * Every code the API service (other failures answer as problem+json with their own codes) raises as an AuditstreamError: the closed list (codes are metrics labels
 * and are named by tests and docs, so they are never renamed). Codes every package may raise
 * (`CORE_ERROR_CODES`) and codes of the packages this one builds on are not repeated here;
 * test/deploy/error-codes.test.ts checks that each code raised here is listed.
 */
export const API_ERROR_CODES = ['NOT_FOUND'] as const;
export type ApiErrorCode = (typeof API_ERROR_CODES)[number];
