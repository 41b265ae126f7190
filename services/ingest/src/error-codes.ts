/**
 * Every code the ingest service raises as an AuditstreamError: the closed list (codes are metrics labels
 * and are named by tests and docs, so they are never renamed). Codes every package may raise
 * (`CORE_ERROR_CODES`) and codes of the packages this one builds on are not repeated here;
 * test/deploy/error-codes.test.ts checks that each code raised here is listed.
 */
export const INGEST_ERROR_CODES = ['INGEST_NOT_STARTED', 'INGEST_STOPPED', 'KAFKA_CONSUMER_CRASHED', 'DLQ_UNAVAILABLE', 'ENCRYPTION_KEY_MISSING'] as const;
export type IngestErrorCode = (typeof INGEST_ERROR_CODES)[number];
