export { renderConfigTable } from './docs.js';
export { type DeepReadonly, deepFreeze, ENV_PREFIX, type LoadOptions, loadConfig } from './load.js';
export { type AuditstreamConfig, configSchema } from './schema.js';
export { describeFields, type FieldInfo } from './schema-walk.js';
export { resolveSecret } from './secrets.js';
export { type AlertingSection, alertingSection } from './sections/alerting.js';
export { type ApiSection, apiSection } from './sections/api.js';
export * as sections from './sections/common.js';
export { DEFAULT_SEVERITY_RULES, type IngestSection, ingestSection, type RedactPattern, type SeverityRule } from './sections/ingest.js';
