import type { SchemasErrorCode } from '@auditstream/schemas';

/** The producer's own codes (validation codes are the contract's, from @auditstream/schemas). */
export const PRODUCER_ERROR_CODES = ['PRODUCER_BUFFER_FULL', 'PRODUCER_SEND_FAILED', 'PRODUCER_DELIVERY_TIMEOUT', 'PRODUCER_CLOSED'] as const;
export type ProducerErrorCodeValue = (typeof PRODUCER_ERROR_CODES)[number];

/**
 * Error codes the producer rejects with. Validation errors are never retriable (the event
 * must change); buffer, send and timeout errors are (the same event may be published again:
 * downstream de-duplicates on event_id).
 */
export const ProducerErrorCode = {
  /** The event breaks the contract; `field` names the dotted path. */
  EVENT_INVALID: 'EVENT_INVALID',
  /** The encoded event exceeds max_event_bytes. */
  EVENT_TOO_LARGE: 'EVENT_TOO_LARGE',
  /** No room in the buffer within max_block_ms (retriable). */
  BUFFER_FULL: 'PRODUCER_BUFFER_FULL',
  /** Kafka refused the batch with a non-retriable error, or the codec/registry failed; retriable
   * only when Kafka's answer left out the event's partition. */
  SEND_FAILED: 'PRODUCER_SEND_FAILED',
  /** Not acknowledged within delivery_timeout_ms (retriable; details.maybe_delivered). */
  DELIVERY_TIMEOUT: 'PRODUCER_DELIVERY_TIMEOUT',
  /** The producer was closed before the event was acknowledged. */
  CLOSED: 'PRODUCER_CLOSED',
} as const satisfies Record<string, ProducerErrorCodeValue | SchemasErrorCode>;

/** An event that cannot be published as is: the contract's validation error, one class for every component. */
export { AuditEventValidationError } from '@auditstream/schemas';
