export type {
  ApiAlert,
  ApiEvent,
  ApiEventEnrichment,
  ApiEventIntegrity,
  ApiMaskedField,
  MaskReason,
  PartitionCheckpoint,
  PipelineHealth,
  PipelineHealthSource,
} from './api-types.js';
export { MASK_REASONS } from './api-types.js';
export { type CompatibilityIssue, checkCompatibility } from './compat.js';
export { SCHEMAS_ERROR_CODES, type SchemasErrorCode } from './error-codes.js';
export { ACTION_RE, isIpAddress, isUuidV7, isValidAction, MAX_ACTION_LENGTH } from './rules.js';
export {
  ALERT_SCHEMA_FILE,
  AUDIT_EVENT_SCHEMA_FILE,
  type AvroSchema,
  alertSchema,
  auditEventSchema,
  auditEventType,
  HISTORY_DIR,
  type HistoricSchema,
  loadSchemaHistory,
  readSchemaFile,
  SCHEMA_DIR,
  schemaHistory,
  typeForSchema,
  typeOptions,
} from './schema.js';
export { MAX_US, MIN_US, microsToDate, microsToIso, nowMicros, type TimestampInput, toMicros } from './time.js';
export * from './types.generated.js';
export {
  AuditEventValidationError,
  createEventNormalizer,
  EVENT_TIME_WINDOW,
  type NormalizedEvent,
  type PublishInput,
  type ValidationOptions,
  validateAuditEvent,
} from './validate.js';
