import { type AuditstreamConfig, configSchema, type DeepReadonly, type IngestSection, type IntegritySection, loadConfig } from '@auditstream/config';

export type { IngestSection, IntegritySection };

/**
 * The one configuration schema (it carries the ingest section, shared/config/src/sections/ingest.ts,
 * and the integrity section ingest chains and signs with, shared/config/src/sections/integrity.ts).
 */
export const ingestConfigSchema = configSchema;

export type IngestServiceConfig = DeepReadonly<AuditstreamConfig>;

/** Parses config once, like every service: file, then AUDITSTREAM_<SECTION>__<KEY>, then overrides. */
export function loadIngestConfig(
  options: { file?: string | undefined; env?: NodeJS.ProcessEnv; overrides?: Record<string, unknown> } = {},
): IngestServiceConfig {
  return loadConfig(configSchema, options);
}
