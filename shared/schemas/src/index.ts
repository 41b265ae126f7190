export { type CompatibilityIssue, checkCompatibility } from './compat.js';
export {
  AUDIT_EVENT_SCHEMA_FILE,
  type AvroSchema,
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
