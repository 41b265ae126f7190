import { isRetriable } from '@auditstream/core';

/**
 * Whether a Kafka operation that threw is worth trying again. kafkajs retries retriable errors
 * itself and, when its retries run out, throws a KafkaJSNumberOfRetriesExceeded: non-retriable
 * by its flag, though what it wraps (UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE right after
 * a topic is created, a broker restarting) is; kafkajs restarts a crashed consumer on it too.
 * Anything else answers by its own `retriable` flag (core's isRetriable), so data errors
 * (a corrupt batch, a record a handler rejects) are not retried.
 */
export function isRetriableKafkaError(err: unknown): boolean {
  const e = err as { name?: unknown; cause?: unknown } | undefined;
  if (e?.name === 'KafkaJSNumberOfRetriesExceeded') return e.cause === undefined || isRetriable(e.cause);
  return isRetriable(err);
}
