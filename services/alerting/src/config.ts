import { type AlertingSection, type AuditstreamConfig, alertingSection, configSchema, type DeepReadonly, loadConfig } from '@auditstream/config';

export { alertingSection };
export type AlertingConfig = DeepReadonly<AlertingSection>;
export type AlertingServiceConfig = DeepReadonly<AuditstreamConfig>;

/** The whole configuration (the alerting section included): file, then the environment, then overrides. */
export function loadAlertingConfig(file: string | undefined, overrides: Record<string, unknown> = {}): AlertingServiceConfig {
  return loadConfig(configSchema, { file, overrides });
}
