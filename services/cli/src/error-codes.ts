/**
 * Every code the `auditstream` commands raises as an AuditstreamError: the closed list (codes are metrics labels
 * and are named by tests and docs, so they are never renamed). Codes every package may raise
 * (`CORE_ERROR_CODES`) and codes of the packages this one builds on are not repeated here;
 * test/deploy/error-codes.test.ts checks that each code raised here is listed.
 */
export const CLI_ERROR_CODES = ['EVENTS_UNREADABLE', 'KEYS_UNREADABLE'] as const;
export type CliErrorCode = (typeof CLI_ERROR_CODES)[number];
