// Bridge: @auditstream/config does not export this section (nor include it in the root
// schema) yet. Once it does, import { alertingSection } from '@auditstream/config' instead.
import { type AlertingSection, type AuditstreamConfig, alertingSection, configSchema, type DeepReadonly, loadConfig } from '@auditstream/config';
import { z } from 'zod';

export { alertingSection };
export type AlertingConfig = DeepReadonly<AlertingSection>;

/** The root schema with the alerting section (a no-op extension once the root includes it). */
export const alertingConfigSchema = z.object({ ...configSchema.shape, alerting: alertingSection }).strict();
export type AlertingServiceConfig = DeepReadonly<AuditstreamConfig & { alerting: AlertingSection }>;

export function loadAlertingConfig(file: string | undefined, overrides: Record<string, unknown> = {}): AlertingServiceConfig {
  return loadConfig(alertingConfigSchema, { file, overrides }) as AlertingServiceConfig;
}
