import { alertingSection as baseSection, configSchema, type DeepReadonly, loadConfig } from '@auditstream/config';
import type { z } from 'zod';
import { sinksSchema } from './sinks/registry.js';

/** The alerting section with each sink's own section, as the sink modules declare them. */
export const alertingSection = baseSection.unwrap().extend({ sinks: sinksSchema }).prefault({});
export type AlertingConfig = DeepReadonly<z.infer<typeof alertingSection>>;

/** The whole configuration as the alerting service reads it (what the README table lists). */
export const alertingConfigSchema = configSchema.extend({ alerting: alertingSection });
export type AlertingServiceConfig = DeepReadonly<z.infer<typeof alertingConfigSchema>>;

/** File, then the environment, then overrides; every sink section checked by its module. */
export function loadAlertingConfig(file: string | undefined, overrides: Record<string, unknown> = {}): AlertingServiceConfig {
  return loadConfig(alertingConfigSchema, { file, overrides });
}
