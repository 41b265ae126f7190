// The error class every rejection is (its `code` says why): re-exported for `instanceof`.
export { AuditstreamError } from '@auditstream/core';
export { AuditEventValidationError, PRODUCER_ERROR_CODES, ProducerErrorCode, type ProducerErrorCodeValue } from './errors.js';
export {
  type AuditHttpFields,
  type AuditHttpOptions,
  auditFastifyHook,
  auditMiddleware,
  type HttpRequestLike,
  type HttpResponseLike,
  outcomeFromStatus,
} from './http.js';
export type { MetricsRegistry } from './metrics.js';
export { murmur2, pinningPartitioner } from './partitioner.js';
export {
  type AuditProducer,
  type AuditProducerOptions,
  type CloseReport,
  createAuditProducer,
  type KafkaProducerLike,
  PRODUCER_DEFAULTS,
  type ProducerDefaults,
  type ProducerStats,
  type PublishReceipt,
} from './producer.js';
export { ACTION_RE, createEventNormalizer, type NormalizedEvent, type PublishInput, type ValidationOptions } from './validate.js';
