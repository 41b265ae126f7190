import { createClickHouse } from '@auditstream/clickhouse';
import { resolveSecret } from '@auditstream/config';
import { createLocalKeyWrapper, createSubjectKeyStore, loadMasterKeys } from '@auditstream/crypto';
import { loadPublicKeyFiles } from '@auditstream/integrity';
import { createKafkaClient, defaultTopicSpecs, ensureTopics } from '@auditstream/kafka';
import { createLogger, createMetricsRegistry } from '@auditstream/observability';
import { createAuditProducer } from '@auditstream/producer';
import { createApi } from './app.js';
import { type ApiServiceConfig, loadApiConfig } from './config.js';
import type { IntegrityVerifier } from './integrity.js';
import { createPipelineHealth } from './pipeline-health.js';
import { createStoreVerifier } from './store-verifier.js';

/**
 * Wiring only: config → logger, metrics, ClickHouse, the SDK producer for self-audit → the API.
 * `auditstream api` runs this until SIGINT/SIGTERM.
 */
export interface RunApiOptions {
  configFile?: string | undefined;
  /** Dotted config keys that win over the file and environment (CLI flags). */
  overrides?: Record<string, unknown>;
  /** Stops the API when aborted (default: SIGINT/SIGTERM). */
  signal?: AbortSignal;
  /** Called once listening. */
  onListening?: (url: string) => void;
  verify?: IntegrityVerifier;
}

export interface RunningApi {
  url: string;
  config: ApiServiceConfig;
  /** Resolves once stopped. */
  done: Promise<void>;
}

export async function runApi(options: RunApiOptions = {}): Promise<RunningApi> {
  const cfg = loadApiConfig(options.configFile, options.overrides);
  const logger = createLogger({ level: cfg.log.level, service: 'api' });
  const metrics = createMetricsRegistry({ service: 'api' });
  const clickhouse = createClickHouse(cfg.clickhouse, { logger, metrics, component: 'clickhouse' });
  const kafka = createKafkaClient(
    { ...cfg.kafka, sasl_password: resolveSecret(cfg.kafka.sasl_password, cfg.kafka.sasl_password_file, 'kafka.sasl_password') },
    { component: 'api', logger: logger.child({ component: 'kafka' }) },
  );
  // The events topic usually exists (ingest creates it); creating it here too lets the API start
  // first. Best effort: an account without the right to create topics just reads on (and answers 503
  // while the topic is missing, since reads fail closed).
  await ensureTopics(kafka, { topics: defaultTopicSpecs(cfg.topics).filter((t) => t.name === cfg.topics.events), logger }).catch((err: unknown) =>
    logger.warn({ err_code: (err as { code?: string }).code ?? 'unknown', topic: cfg.topics.events }, 'could not check or create the events topic'),
  );
  // One SDK producer per process (config section producer): self-audit events and the collector
  // (POST /v1/events). Self-audit events gate reads (fail closed): give up on Kafka sooner than the SDK default.
  const producer = createAuditProducer({
    kafka,
    topic: cfg.topics.events,
    logger: logger.child({ component: 'producer' }),
    metrics,
    ...cfg.producer,
    delivery_timeout_ms: Math.min(cfg.producer.delivery_timeout_ms, 10_000),
  });
  // Verification needs the trusted public keys; without them the endpoint says it is not configured.
  const verify =
    options.verify ??
    (cfg.integrity.public_key_files.length > 0
      ? createStoreVerifier({
          ch: clickhouse,
          kafka,
          publicKeys: loadPublicKeyFiles(cfg.integrity.public_key_files),
          checkpointsTopic: cfg.topics.checkpoints,
          eventsTopic: cfg.topics.events,
          ingestGroupId: cfg.ingest.group_id,
        })
      : undefined);
  // Encrypted personal fields: with the master key, PII-permitted credentials see clear values and
  // erased subjects show the erased marker; without it everything encrypted is masked.
  const enc = cfg.encryption;
  const masterKeys = loadMasterKeys(enc);
  if (!masterKeys && enc.enabled) logger.warn('encryption.enabled but no encryption.master_key_file here: encrypted fields are masked for every caller');
  const fields = {
    mask: enc.mask,
    erased: enc.erased_marker,
    ...(masterKeys
      ? {
          store: createSubjectKeyStore({
            ch: clickhouse,
            wrapper: createLocalKeyWrapper({ keys: masterKeys }),
            cacheTtlMs: enc.key_cache_ttl_ms,
            cacheMaxEntries: enc.key_cache_max_entries,
            readOnly: true,
          }),
        }
      : {}),
  };
  const cursorSecret = resolveSecret(cfg.api.cursor_secret, cfg.api.cursor_secret_file, 'api.cursor_secret');
  if (!cursorSecret) logger.warn('api.cursor_secret is not set: pagination cursors are signed with a per-process key and do not survive a restart');
  if (!cfg.api.export_manifest_signing_key_file && !cfg.api.export_manifest_signing_key)
    logger.warn('api.export_manifest_signing_key_file is not set: exports carry no signed manifest (docs/integrity.md#export-manifests)');
  // Saved searches are the API's one write to ClickHouse: through an account that may insert, when configured.
  const savedSearchWriter = cfg.api.saved_searches_username
    ? createClickHouse(
        {
          ...cfg.clickhouse,
          username: cfg.api.saved_searches_username,
          password: resolveSecret(undefined, cfg.api.saved_searches_password_file, 'api.saved_searches_password') ?? '',
          password_file: undefined,
        },
        { logger, metrics, component: 'clickhouse_saved_searches' },
      )
    : undefined;
  const viewerTokenSecret = resolveSecret(cfg.api.viewer_token_secret, cfg.api.viewer_token_secret_file, 'api.viewer_token_secret');
  if (!viewerTokenSecret) logger.warn('api.viewer_token_secret is not set: viewer tokens are signed with a per-process key and do not survive a restart');
  const api = createApi({
    config: cfg.api,
    clickhouse,
    logger,
    metrics,
    recordEvent: (event) => producer.publish(event),
    publisher: producer,
    fields,
    ...(verify ? { verify } : {}),
    ...(cursorSecret ? { cursorSecret } : {}),
    ...(viewerTokenSecret ? { viewerTokenSecret } : {}),
    ...(savedSearchWriter ? { savedSearchWriter } : {}),
    pipeline: createPipelineHealth({
      kafka,
      eventsTopic: cfg.topics.events,
      ingestGroupId: cfg.ingest.group_id,
      // What `auditstream up` runs: each service's metrics server, reached on loopback when it listens on every address.
      ingestMetricsUrl: cfg.api.pipeline_ingest_metrics_url ?? metricsUrl(cfg.ingest.metrics_host, cfg.ingest.metrics_port),
      alertingMetricsUrl: cfg.api.pipeline_alerting_metrics_url ?? metricsUrl(cfg.alerting.metrics_host, cfg.alerting.metrics_port),
      timeoutMs: cfg.api.pipeline_scrape_timeout_ms,
    }),
  });
  const { url } = await api.start();
  logger.info({ url, openapi: `${url}/openapi.json` }, 'query API listening');
  options.onListening?.(url);

  const done = new Promise<void>((resolve) => {
    const stop = async () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      logger.info('stopping the query API');
      try {
        await api.stop();
        await producer.close({ timeout_ms: cfg.api.shutdown_timeout_ms });
        await clickhouse.close();
        await savedSearchWriter?.close();
      } catch (err) {
        logger.error({ err_code: (err as { code?: string }).code ?? 'unknown' }, 'error while stopping');
      }
      resolve();
    };
    if (options.signal) options.signal.addEventListener('abort', stop, { once: true });
    else {
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    }
  });
  return { url, config: cfg, done };
}

function metricsUrl(host: string, port: number): string {
  const h = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return `http://${h}:${port}/metrics`;
}
