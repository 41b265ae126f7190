import { pathToFileURL } from 'node:url';
import { createClickHouse } from '@auditstream/clickhouse';
import { createCodec } from '@auditstream/codec';
import { isAuditstreamError } from '@auditstream/core';
import { createKafkaClient } from '@auditstream/kafka';
import { createLogger, createMetricsRegistry } from '@auditstream/observability';
import { createAlerting } from './app.js';
import { type AlertingServiceConfig, loadAlertingConfig } from './config.js';
import type { AlertEvent } from './event.js';

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
  const app = createAlerting({
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

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (invokedDirectly) {
  runAlerting().then(
    (code) => process.exit(code),
    () => process.exit(1),
  );
}
