import { type ApiSection, type AuditstreamConfig, apiSection, configSchema, type DeepReadonly, loadConfig, parseSection } from '@auditstream/config';

export { apiSection };
export type ApiConfig = DeepReadonly<ApiSection>;
export type ApiServiceConfig = DeepReadonly<AuditstreamConfig>;

/** The whole configuration (the api section included): --config file, then the environment, then overrides. */
export function loadApiConfig(file: string | undefined, overrides: Record<string, unknown> = {}): ApiServiceConfig {
  return loadConfig(configSchema, { file, overrides });
}

/** The api section with every default, for tests: `apiDefaults({ port: 0 })`. */
export function apiDefaults(overrides: Partial<ApiSection> = {}): ApiConfig {
  return parseSection(apiSection, 'api', overrides) as ApiConfig;
}
