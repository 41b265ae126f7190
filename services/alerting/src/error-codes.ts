/**
 * Every code the alerting service (rules, sinks, start-up) raises as an AuditstreamError: the closed list (codes are metrics labels
 * and are named by tests and docs, so they are never renamed). Codes every package may raise
 * (`CORE_ERROR_CODES`) and codes of the packages this one builds on are not repeated here;
 * test/deploy/error-codes.test.ts checks that each code raised here is listed.
 */
export const ALERTING_ERROR_CODES = [
  'RULES_INVALID',
  'RULES_UNREADABLE',
  'EVENTS_INVALID',
  'ALERT_UNDECODABLE',
  'ALERT_PROTECT_FAILED',
  'NOT_STARTED',
  'START_TIMEOUT',
  'REBUILD_FAILED',
  'TOPIC_MISSING',
  'TOPIC_NOT_READY',
  'SINK_ABORTED',
  'SINK_TIMEOUT',
  'SINK_UNREACHABLE',
  'SINK_TLS',
  'SINK_HTTP_4XX',
  'SINK_HTTP_429',
  'SINK_HTTP_5XX',
  'SINK_KAFKA',
] as const;
export type AlertingErrorCode = (typeof ALERTING_ERROR_CODES)[number];
