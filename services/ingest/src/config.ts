import { configSchema, type DeepReadonly, loadConfig } from '@auditstream/config';
import { z } from 'zod';
// The section lives in @auditstream/config (sections/ingest.ts); until the package's root
// schema and index carry it, ingest extends the root schema with it here.
import { type IngestSection, ingestSection } from '../../../shared/config/src/sections/ingest.js';

export type { IngestSection };

/** The root schema plus the ingest section (a no-op once the root schema has it). */
export const ingestConfigSchema = z.strictObject({ ...configSchema.shape, ingest: ingestSection });

export type IngestServiceConfig = DeepReadonly<z.infer<typeof ingestConfigSchema>>;

/** Parses config once, like every service: file, then AUDITSTREAM_<SECTION>__<KEY>, then overrides. */
export function loadIngestConfig(
  options: { file?: string | undefined; env?: NodeJS.ProcessEnv; overrides?: Record<string, unknown> } = {},
): IngestServiceConfig {
  return loadConfig(ingestConfigSchema, options);
}
