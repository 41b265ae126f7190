import { createClickHouse } from '@auditstream/clickhouse';
import { createCodec } from '@auditstream/codec';
import { createLogger, createMetricsRegistry } from '@auditstream/observability';
import { createIngest, type IngestStorage } from './app.js';
import { loadIngestConfig } from './config.js';
import { type IngestIntegrityDeps, integrityFromConfig } from './integrity.js';
import { encryptionFromConfig } from './pipeline/encrypt.js';
import { clickhouseWriter, detectLayout } from './storage.js';

export interface RunIngestOptions {
  /** YAML config file (else AUDITSTREAM_CONFIG, then defaults); the environment overrides it. */
  configFile?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Handle SIGTERM/SIGINT (default true). */
  signals?: boolean;
}

/**
 * The ingest process: config, logger, metrics, signals, start. Resolves with the exit code:
 * 0 after a clean stop (SIGTERM/SIGINT: everything consumed stored and committed within
 * ingest.shutdown_timeout_ms), 1 after a fatal error or an unclean stop.
 */
export async function runIngest(options: RunIngestOptions = {}): Promise<number> {
  const env = options.env ?? process.env;
  const config = loadIngestConfig({ file: options.configFile ?? env.AUDITSTREAM_CONFIG, env });
  const logger = createLogger({ level: config.log.level, service: 'ingest' });
  const registry = createMetricsRegistry({ service: 'ingest' });
  const ch = createClickHouse(config.clickhouse, { logger, metrics: registry, component: 'ingest.clickhouse' });
  const storage: IngestStorage = {
    prepare: async () => clickhouseWriter(ch, await detectLayout(ch)),
    ping: () => ch.ping(),
    close: () => ch.close(),
  };
  // Confluent-framed events name a schema id the codec fetches from the registry the SDK
  // registers with (producer.registry_url); single-object events need none. Read structurally
  // so this works before and after the producer section is part of the root schema.
  const sdk = (config as { producer?: { registry_url?: string; registry_timeout_ms?: number } }).producer;
  const decoder = createCodec(
    sdk?.registry_url ? { registryUrl: sdk.registry_url, ...(sdk.registry_timeout_ms ? { registryTimeoutMs: sdk.registry_timeout_ms } : {}) } : {},
  );
  // integrity.enabled (the default) needs the signing key (and readable integrity.public_key_files):
  // fail fast, before consuming anything.
  let app: ReturnType<typeof createIngest>;
  try {
    const integrity: IngestIntegrityDeps | undefined = integrityFromConfig(config.integrity, ch);
    if (!integrity) logger.warn('integrity.enabled is false: rows are stored without a hash chain (auditstream verify reports them as unchained)');
    // encryption.enabled needs the master key: fail fast, naming the key.
    const encryption = encryptionFromConfig(config.encryption, ch);
    app = createIngest({
      config,
      logger,
      registry,
      storage,
      decoder,
      ...(integrity ? { integrity } : {}),
      ...(encryption ? { encryption } : {}),
    });
  } catch (err) {
    logger.fatal({ code: (err as { code?: string }).code, err: (err as Error)?.message }, `ingest could not start: ${(err as Error)?.message}`);
    await ch.close().catch(() => {});
    return 1;
  }

  if (options.signals !== false) {
    const onSignal = (signal: NodeJS.Signals) => {
      logger.info({ signal }, 'signal received');
      void app.stop(signal);
      // Last resort if stopping itself hangs (a broker that never answers the leave).
      setTimeout(() => {
        logger.error('stop did not finish in time; exiting');
        process.exit(1);
      }, config.ingest.shutdown_timeout_ms + 10_000).unref();
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  }

  try {
    await app.start();
  } catch (err) {
    logger.fatal({ err: (err as Error)?.message }, 'ingest could not start');
    await app.stop('start failed');
    return 1;
  }
  const { error, result } = await app.done;
  return error === undefined && result.clean ? 0 : 1;
}
