import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { ClickHouse } from '@auditstream/clickhouse';
import { AuditstreamError, repoRoot } from '@auditstream/core';
import { type Logger, type ObservabilityServer, startObservabilityServer } from '@auditstream/observability';
import type { Admin, Kafka, KafkaMessage } from 'kafkajs';
import type { Registry } from 'prom-client';
import type { AlertDelivery } from './alert.js';
import type { AlertingConfig } from './config.js';
import { type EventsConsumer, ensureTopics, startEventsConsumer } from './consumer.js';
import { Engine, type EngineMetrics } from './engine.js';
import type { AlertEvent } from './event.js';
import { createEventGate } from './gate.js';
import { createAlertingMetrics } from './metrics.js';
import { EvaluatedOffsets } from './progress.js';
import { ensureRepartitionTopic, type Repartitioner, repartitionTopicName, startRepartitioner } from './repartition.js';
import { createRebuilder } from './replay.js';
import { keyPartition, partitionScope, type RouteScope } from './route.js';
import { createRulesReloader, type RulesReloader } from './rules/reload.js';
import { type AlertDecoder, type AlertEncoder, decodeAlert as defaultDecodeAlert, encodeAlert as defaultEncodeAlert } from './sinks/alert-codec.js';
import { type Delivery, startDelivery } from './sinks/delivery.js';
import type { Sink, SinkQueueOptions } from './sinks/types.js';

export interface AlertingDeps {
  config: AlertingConfig;
  kafka: Kafka;
  topics: { readonly events: string; readonly alerts: string };
  registry: Registry;
  logger: Logger;
  /** Decodes one record of the events topic (main.ts: @auditstream/codec). Records go through gate.ts first. */
  decodeEvent: (value: Buffer) => AlertEvent | Promise<AlertEvent>;
  /** ingest.max_message_bytes: larger records are dead-lettered by ingest, so never evaluated. */
  maxMessageBytes?: number;
  encodeAlert?: AlertEncoder;
  decodeAlert?: AlertDecoder;
  /** Makes the ClickHouse client of the sinks that store alerts (main.ts: the `clickhouse` section); called on first use. */
  clickhouse?: () => ClickHouse;
  /** Additional sinks (tests); they get the same queueing and retries. */
  extraSinks?: Array<{ sink: Sink; queue: SinkQueueOptions }>;
  /** Where /metrics, /healthz, /readyz listen; false to not serve them. Default: config metrics_host/port. */
  observability?: false | { host: string; port: number };
}

export interface AlertingService {
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly engine: Engine;
  /** Base URL of the observability server once started. */
  readonly metricsUrl: string | undefined;
  ready(): boolean;
}

/**
 * The alerting service: consumes the events topic in a consumer group, evaluates the rules
 * (engine.ts) and fans alerts out to the sinks.
 *
 * Restarts and rebalances. The alerts topic is the durable record of what was delivered.
 * On every group join, before any live batch is evaluated:
 *  1. the alerts topic is read back (the last `alerts_lookback_ms`, then incrementally):
 *     those alert ids count as delivered and their incidents stay open;
 *  2. for each assigned partition, events from (now - longest rule window - lateness -
 *     margin) up to the group's committed offset are replayed in replay mode (windows are
 *     rebuilt, updates are not sent, an alert fires only if it was never delivered, i.e.
 *     it was missed by a crash between evaluation and delivery);
 *  3. live consumption resumes at the committed offset.
 * Offsets already evaluated by this process are tracked per partition and never evaluated
 * twice, whether they come from a replay or from the group re-delivering uncommitted records.
 * So a restart neither re-fires an alert already delivered nor misses an incident straddling it.
 *
 * The parts: sinks/delivery.ts builds the sinks from config behind the dispatcher, replay.ts
 * is steps 1 and 2, consumer.ts the group membership and live consumption (step 3); this
 * function loads the rules, builds the engine and starts and stops them in order.
 */
export function createAlerting(deps: AlertingDeps): AlertingService {
  const { config, kafka, topics, logger } = deps;
  const log = logger.child({ component: 'alerting' });
  let engine: Engine | undefined;
  const metrics = createAlertingMetrics(deps.registry, () => engine?.stateEntries() ?? 0);
  const admit = createEventGate({ decode: deps.decodeEvent, maxMessageBytes: deps.maxMessageBytes });
  const evaluated = new EvaluatedOffsets();
  const skipWarned = new Set<string>();
  const engineMetrics: EngineMetrics = {
    ...metrics.engine,
    lossSkipped: (reason, n) => {
      metrics.engine.lossSkipped?.(reason, n);
      // Once per reason per process: in a backlog it can happen per producer, the counter has the rest.
      if (skipWarned.has(reason)) return;
      skipWarned.add(reason);
      log.warn(
        { reason },
        'event_loss skipped a producer range without checking it (auditstream_alerting_event_loss_skipped_total); a loss inside it is not reported. Logged once per reason.',
      );
    },
  };

  let reloader: RulesReloader | undefined;
  let admin: Admin | undefined;
  let consumer: EventsConsumer | undefined;
  let repartitioner: Repartitioner | undefined;
  /** Scale-out: the repartition topic, its partition count, and the partitions this instance evaluates. */
  const scaled = config.repartition ? { topic: repartitionTopicName(config, topics.events), partitions: 0, owned: new Set<number>() } : undefined;
  let delivery: Delivery | undefined;
  let server: ObservabilityServer | undefined;
  let ticker: NodeJS.Timeout | undefined;
  let isReady = false;
  let stopping = false;
  let lagCheckedAt = 0;

  const rulesPath = resolveRulesPath(config.rules_file);

  function requireEngine(): Engine {
    if (!engine) throw new AuditstreamError('NOT_STARTED', 'alerting service is not started');
    return engine;
  }

  /** Only what ingest would store reaches the rules (gate.ts): an alert never points at a dead letter. */
  async function evaluate(m: KafkaMessage, partition: number): Promise<void> {
    const a = await admit(m.value, Number(m.timestamp));
    // Scaled out, the record is a copy carrying only the group keys of its partition (route.ts).
    const route: RouteScope | undefined = scaled ? partitionScope(partition, scaled.partitions) : undefined;
    // The Kafka timestamp is the event's arrival (kept by the repartition copy): future event times are clamped against it.
    if (a.ok) requireEngine().process(a.event, Number(m.timestamp), route);
    else {
      if (a.event) requireEngine().observe(a.event, Number(m.timestamp), route);
      // Scaled out, the repartition stage already counted it.
      if (!scaled) metrics.discarded.inc({ reason: a.reason });
    }
  }

  const rebuilder = createRebuilder({
    kafka,
    config,
    topics,
    decodeAlert: deps.decodeAlert ?? defaultDecodeAlert,
    metrics,
    log,
    evaluated,
    evaluate,
    ...(scaled ? { source: { topic: scaled.topic, group: config.consumer_group } } : {}),
  });

  function createEngine(): Engine {
    reloader = createRulesReloader({
      path: rulesPath,
      parse: { timezone: config.timezone, newValueMaxEntries: config.new_value_max_entries },
      debounce_ms: config.reload_debounce_ms,
      onChange: (set) => {
        engine?.setRules(set);
        metrics.reloads.inc({ result: 'ok' });
        metrics.rulesLoaded.set(set.rules.length);
        log.info({ rules: set.rules.length, fingerprint: set.fingerprint }, 'rules reloaded');
      },
      onError: (err) => {
        metrics.reloads.inc({ result: 'rejected' });
        log.error({ err: { code: err.code, message: err.message } }, 'rules file rejected; the last good rules stay active');
      },
    });
    if (!config.watch_rules) reloader.close();
    const rules = reloader.current();
    metrics.rulesLoaded.set(rules.rules.length);
    const e = new Engine({
      rules,
      allowed_lateness_ms: config.allowed_lateness_ms,
      max_future_skew_ms: config.max_future_skew_ms,
      min_update_interval_ms: config.min_update_interval_ms,
      limits: { maxEventsPerKey: config.max_events_per_key, maxKeys: config.max_keys_per_rule, sampleSize: config.sample_event_ids },
      metrics: engineMetrics,
      ...(scaled ? { owns: (key: string) => scaled.owned.has(keyPartition(key, scaled.partitions)) } : {}),
      onAlert: (d: AlertDelivery) => {
        log.info({ alert_id: d.alert.alert_id, rule_id: d.alert.rule_id, kind: d.kind, version: d.alert.version }, 'alert');
        delivery?.dispatcher.dispatch(d);
      },
    });
    log.info({ rules: rules.rules.length, file: rulesPath }, 'rules loaded');
    return e;
  }

  const service: AlertingService = {
    get engine() {
      return requireEngine();
    },
    get metricsUrl() {
      return server?.url;
    },
    ready: () => isReady,

    async start() {
      engine = createEngine();
      const obs = deps.observability ?? { host: config.metrics_host, port: config.metrics_port };
      if (obs) {
        server = await startObservabilityServer({
          host: obs.host,
          port: obs.port,
          registry: deps.registry,
          readiness: [{ name: 'consuming', check: () => isReady }],
          logger: log,
        });
      }

      const a = kafka.admin();
      admin = a;
      await a.connect();
      await ensureTopics(a, topics);
      if (scaled)
        scaled.partitions = await ensureRepartitionTopic(a, { topic: scaled.topic, events: topics.events, partitions: config.repartition_partitions, log });
      delivery = await startDelivery({
        kafka,
        sinks: config.sinks,
        topics,
        encodeAlert: deps.encodeAlert ?? defaultEncodeAlert,
        clickhouse: deps.clickhouse,
        extraSinks: deps.extraSinks,
        metrics: metrics.dispatcher,
        logger: log,
      });
      consumer = await startEventsConsumer({
        kafka,
        admin: a,
        config,
        // Scaled out: the repartition topic, from its start when the group never committed (it holds only what the stage copied).
        topic: scaled?.topic ?? topics.events,
        ...(scaled ? { startFrom: 'earliest' as const } : {}),
        log,
        evaluated,
        evaluate,
        onJoin: (partitions) => {
          if (scaled) scaled.owned = new Set(partitions);
          return config.replay_on_start ? rebuilder.rebuild(a, requireEngine(), partitions) : Promise.resolve();
        },
        onFatal: () => {
          isReady = false;
        },
      });
      // Started after the evaluating stage, whose group has pinned its start on the repartition topic by then.
      if (scaled) {
        repartitioner = await startRepartitioner({
          kafka,
          admin: a,
          config,
          source: topics.events,
          target: scaled.topic,
          partitions: scaled.partitions,
          rules: () => requireEngine().rules.rules,
          admit,
          metrics,
          log,
          // As for the evaluating stage: a stage kafkajs will not restart feeds nothing any more.
          onFatal: () => {
            isReady = false;
          },
        });
      }
      const c = consumer;
      ticker = setInterval(() => {
        if (stopping || !engine) return;
        // Silence is real silence only when neither stage has a backlog.
        engine.tick(Date.now(), c.caughtUp() && (repartitioner?.caughtUp() ?? true));
        if (Date.now() - lagCheckedAt > 5000) {
          lagCheckedAt = Date.now();
          c.updateLag().catch((err) => log.warn({ err }, 'could not read the events topic high watermarks'));
          repartitioner?.updateLag().catch((err) => log.warn({ err }, 'could not read the high watermarks of the repartition stage'));
        }
      }, config.tick_interval_ms);
      ticker.unref();
      isReady = true;
      log.info({ group: config.consumer_group, topic: topics.events, repartition: scaled?.topic }, 'alerting started');
    },

    async stop() {
      stopping = true;
      isReady = false;
      if (ticker) clearInterval(ticker);
      reloader?.close();
      await repartitioner?.disconnect();
      await consumer?.disconnect().catch((err) => log.warn({ err }, 'consumer disconnect failed'));
      await delivery?.close(5000);
      await admin?.disconnect().catch(() => undefined);
      await server?.close();
      log.info('alerting stopped');
    },
  };
  return service;
}

/** A relative rules path is taken from the working directory, else from the repository root. */
export function resolveRulesPath(file: string): string {
  if (isAbsolute(file)) return file;
  const fromCwd = resolve(file);
  if (existsSync(fromCwd)) return fromCwd;
  return resolve(repoRoot(), file);
}
