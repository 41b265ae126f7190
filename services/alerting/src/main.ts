import { pathToFileURL } from 'node:url';
import { type ClickHouse, createClickHouse } from '@auditstream/clickhouse';
import { createCodec } from '@auditstream/codec';
import { resolveSecret } from '@auditstream/config';
import { AuditstreamError, isAuditstreamError } from '@auditstream/core';
import { createLocalKeyWrapper, createSubjectKeyStore, loadMasterKeys } from '@auditstream/crypto';
import { createKafkaClient } from '@auditstream/kafka';
import { createLogger, createMetricsRegistry } from '@auditstream/observability';
import { createAlerting } from './app.js';
import { type AlertingServiceConfig, loadAlertingConfig } from './config.js';
import type { AlertEvent } from './event.js';
import { createAlertProtector } from './protect.js';

/**
 * Wiring only: config, logger, metrics registry, Kafka client, codec, signals.
 * Config file: AUDITSTREAM_CONFIG (or `auditstream alerting --config f`); the environment
 * (AUDITSTREAM_<SECTION>__<KEY>) overrides it.
 */
export async function runAlerting(options: { configFile?: string | undefined; overrides?: Record<string, unknown> } = {}): Promise<number> {
  const cfg: AlertingServiceConfig = loadAlertingConfig(options.configFile ?? process.env.AUDITSTREAM_CONFIG, options.overrides);
  const logger = createLogger({ level: cfg.log.level, service: 'alerting' });
  const registry = createMetricsRegistry({ service: 'alerting' });
  const kafka = createKafkaClient(cfg.kafka, { component: 'alerting', logger: logger.child({ component: 'kafka' }) });
  const codec = createCodec();
  const pii = alertPiiFromConfig(cfg, () => createClickHouse(cfg.clickhouse, { logger, metrics: registry, component: 'alerting.subject_keys' }));
  const app = createAlerting({
    ...(pii ? { pii } : {}),
    config: cfg.alerting,
    kafka,
    topics: cfg.topics,
    registry,
    logger,
    maxMessageBytes: cfg.ingest.max_message_bytes,
    clickhouse: () => createClickHouse(cfg.clickhouse, { logger, metrics: registry, component: 'alerting.clickhouse' }),
    decodeEvent: (value) => {
      try {
        return codec.decodeSync(value) as unknown as AlertEvent;
      } catch (err) {
        if (isAuditstreamError(err) && err.code === 'CODEC_SCHEMA_NOT_LOADED') return codec.decode(value) as unknown as Promise<AlertEvent>;
        throw err;
      }
    },
  });
  const signalled = new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  try {
    await app.start();
  } catch (err) {
    logger.fatal({ err: isAuditstreamError(err) ? { code: err.code, message: err.message, field: err.field } : err }, 'alerting failed to start');
    await app.stop().catch(() => undefined);
    throw err;
  }
  if (app.metricsUrl) logger.info({ url: app.metricsUrl }, 'metrics served');
  const signal = await signalled;
  logger.info({ signal }, 'shutting down');
  try {
    await app.stop();
    return 0;
  } catch (err) {
    logger.error({ err }, 'shutdown failed');
    return 1;
  }
}

/**
 * With field encryption on, alerts protect the values of the encrypted fields with the subjects'
 * keys (protect.ts): the same master key and subject key store as ingest. Fails fast, naming the
 * key, when the master key is missing.
 */
function alertPiiFromConfig(cfg: AlertingServiceConfig, ch: () => ClickHouse) {
  const enc = cfg.encryption;
  if (!enc.enabled) return undefined;
  const keys = loadMasterKeys({
    master_key_file: enc.master_key_file,
    master_key: resolveSecret(enc.master_key, undefined, 'encryption.master_key'),
    previous_master_key_files: enc.previous_master_key_files,
  });
  if (!keys)
    throw new AuditstreamError('CONFIG_INVALID', 'encryption.enabled is true but no master key is set: alerts need it to protect personal values', {
      field: 'encryption.master_key_file',
    });
  const store = createSubjectKeyStore({
    ch: ch(),
    wrapper: createLocalKeyWrapper({ keys }),
    cacheTtlMs: enc.key_cache_ttl_ms,
    cacheMaxEntries: enc.key_cache_max_entries,
  });
  return { fields: [...enc.fields], subject_field: enc.subject_field, protector: createAlertProtector({ store, fields: [...enc.fields], mask: enc.mask }) };
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (invokedDirectly) {
  runAlerting().then(
    (code) => process.exit(code),
    () => process.exit(1),
  );
}
