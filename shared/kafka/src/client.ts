import { readConfigFile } from '@auditstream/config';
import { AuditstreamError, type MinimalLogger } from '@auditstream/core';
import { Kafka, type KafkaConfig, logLevel, type SASLOptions } from 'kafkajs';
import { registerCompressionCodecs } from './compression.js';

/** The subset of the `kafka` config section the client needs (see @auditstream/config). */
export interface KafkaClientConfig {
  readonly brokers: readonly string[];
  readonly client_id: string;
  readonly connection_timeout_ms?: number;
  readonly request_timeout_ms?: number;
  readonly ssl?: boolean;
  readonly ssl_ca_file?: string | undefined;
  readonly sasl_mechanism?: 'none' | 'plain' | 'scram-sha-256' | 'scram-sha-512';
  readonly sasl_username?: string | undefined;
  /** Already resolved from sasl_password_file by the caller's config loading. */
  readonly sasl_password?: string | undefined;
  readonly sasl_password_file?: string | undefined;
}

/** Builds a kafkajs client whose logs go through the component's pino logger; it reads every Kafka codec. */
export function createKafkaClient(config: KafkaClientConfig, options: { component: string; logger?: MinimalLogger }): Kafka {
  registerCompressionCodecs();
  const kc: KafkaConfig = {
    clientId: `${config.client_id}-${options.component}`,
    brokers: [...config.brokers],
    connectionTimeout: config.connection_timeout_ms ?? 3000,
    requestTimeout: config.request_timeout_ms ?? 30000,
    logLevel: logLevel.WARN,
    logCreator: () => (entry) => {
      const log = options.logger;
      if (!log) return;
      const { message, ...rest } = entry.log;
      // The SDK bounds kafkajs's idempotent retries on purpose and re-sends itself with a
      // fresh producer id, so this per-connect warning is noise.
      if (message.startsWith('Limiting retries for the idempotent producer')) return;
      // kafkajs log extras are metadata (broker, group, error text) and never payloads.
      const obj = { kafkajs: entry.namespace, ...rest };
      if (entry.level === logLevel.ERROR) log.error(obj, message);
      else if (entry.level === logLevel.WARN) log.warn(obj, message);
      else if (entry.level === logLevel.INFO) log.info(obj, message);
      else log.debug(obj, message);
    },
    retry: { initialRetryTime: 200, retries: 8, maxRetryTime: 10_000 },
  };
  if (config.ssl) {
    // The brokers' certificates and host names are always verified (TLS 1.2+).
    kc.ssl = {
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
      ...(config.ssl_ca_file ? { ca: [readConfigFile(config.ssl_ca_file, 'kafka.ssl_ca_file', 'utf8')] } : {}),
    };
  } else if (config.ssl_ca_file) {
    throw new AuditstreamError('CONFIG_INVALID', 'kafka.ssl_ca_file is set but kafka.ssl is false: set kafka.ssl=true to use TLS', { field: 'kafka.ssl' });
  }
  const mech = config.sasl_mechanism ?? 'none';
  if (mech !== 'none') {
    const password = config.sasl_password_file ? readConfigFile(config.sasl_password_file, 'kafka.sasl_password_file', 'utf8').trim() : config.sasl_password;
    if (!config.sasl_username || !password) {
      throw new AuditstreamError('CONFIG_INVALID', `kafka.sasl_mechanism is ${mech} but kafka.sasl_username or kafka.sasl_password is not set`, {
        field: 'kafka.sasl_username',
      });
    }
    kc.sasl = { mechanism: mech, username: config.sasl_username, password } as SASLOptions;
  }
  return new Kafka(kc);
}
