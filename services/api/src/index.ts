// @auditstream/api: the query API (search, stats, export, alerts, integrity) and API-key management.
export { type ApiKeyInfo, createApiKey, listApiKeys, revokeApiKey } from './api-keys.js';
export { API_VERSION, type Api, type ApiDeps, buildApi, createApi } from './app.js';
export { type ApiConfig, type ApiServiceConfig, apiDefaults, apiSection, loadApiConfig } from './config.js';
export { API_ERROR_CODES, type ApiErrorCode } from './error-codes.js';
export type { IntegrityFailure, IntegrityReport, IntegrityVerifier } from './integrity.js';
export { type RunApiOptions, type RunningApi, runApi } from './main.js';
export type { RecordEvent, SelfAuditEvent } from './plugins/audit-self.js';
export { type Principal, ROLES, type Role, type TenantScope } from './scope.js';
