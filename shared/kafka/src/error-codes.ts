/**
 * Every code the Kafka helpers raises as an AuditstreamError: the closed list (codes are metrics labels
 * and are named by tests and docs, so they are never renamed). Codes every package may raise
 * (`CORE_ERROR_CODES`) and codes of the packages this one builds on are not repeated here;
 * test/deploy/error-codes.test.ts checks that each code raised here is listed.
 */
export const KAFKA_ERROR_CODES = [
  'KAFKA_UNAVAILABLE',
  'KAFKA_READ_TIMEOUT',
  'KAFKA_CORRUPT_BATCH',
  'TOPIC_INVALID',
  'TOPIC_CREATE_FAILED',
  'TOPIC_DELETE_PENDING',
] as const;
export type KafkaErrorCode = (typeof KAFKA_ERROR_CODES)[number];
