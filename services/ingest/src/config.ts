import { type AuditstreamConfig, configSchema, type DeepReadonly, type IngestSection, loadConfig } from '@auditstream/config';

export type { IngestSection };

/** The one configuration schema (it carries the ingest section, shared/config/src/sections/ingest.ts). */
export const ingestConfigSchema = configSchema;

export type IngestServiceConfig = DeepReadonly<AuditstreamConfig>;

/** Parses config once, like every service: file, then AUDITSTREAM_<SECTION>__<KEY>, then overrides. */
export function loadIngestConfig(
  options: { file?: string | undefined; env?: NodeJS.ProcessEnv; overrides?: Record<string, unknown> } = {},
): IngestServiceConfig {
  return loadConfig(configSchema, options);
}
