/**
 * Every code the dev stack raises as an AuditstreamError: the closed list (codes are metrics labels
 * and are named by tests and docs, so they are never renamed). Codes every package may raise
 * (`CORE_ERROR_CODES`) and codes of the packages this one builds on are not repeated here;
 * test/deploy/error-codes.test.ts checks that each code raised here is listed.
 */
export const STACK_ERROR_CODES = [
  'STACK_MODE',
  'STACK_MISSING_TOOL',
  'STACK_PORT_IN_USE',
  'STACK_KAFKA_HOME',
  'STACK_KAFKA_JARS',
  'STACK_REGISTRY_JARS',
  'STACK_ZOOKEEPER_JARS',
  'STACK_KAFKA_FORMAT',
  'STACK_TLS',
  'STACK_START_FAILED',
] as const;
export type StackErrorCode = (typeof STACK_ERROR_CODES)[number];
