import { type AuditstreamConfig, configSchema, type DeepReadonly, loadConfig } from '@auditstream/config';
import { z } from 'zod';
// Bridge: @auditstream/config does not export this section (nor include it in the root schema)
// yet. Once it does, import { apiSection } from '@auditstream/config' instead.
import { type ApiSection, apiSection } from '../../../shared/config/src/sections/api.js';

export { apiSection };
export type ApiConfig = DeepReadonly<ApiSection>;

/** The root schema with the api section (a no-op extension once the root includes it). */
export const apiConfigSchema = z.object({ ...configSchema.shape, api: apiSection }).strict();
export type ApiServiceConfig = DeepReadonly<AuditstreamConfig & { api: ApiSection }>;

export function loadApiConfig(file: string | undefined, overrides: Record<string, unknown> = {}): ApiServiceConfig {
  return loadConfig(apiConfigSchema, { file, overrides }) as ApiServiceConfig;
}

/** The api section with every default, for tests: `apiDefaults({ port: 0 })`. */
export function apiDefaults(overrides: Partial<ApiSection> = {}): ApiConfig {
  return apiSection.parse(overrides) as ApiConfig;
}
