import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { AuditstreamError, repoRoot, retry } from '@auditstream/core';
import { topicWatermarks as highWatermarks, offsetsAtTime as offsetsAt, readRanges } from '@auditstream/kafka';
import { type Logger, type ObservabilityServer, startObservabilityServer } from '@auditstream/observability';
import type { Admin, Consumer, Kafka, KafkaMessage, Producer } from 'kafkajs';
import type { Registry } from 'prom-client';
import type { AlertDelivery } from './alert.js';
import type { AlertingConfig } from './config.js';
import { Engine } from './engine.js';
import type { AlertEvent } from './event.js';
import { createEventGate } from './gate.js';
import { createAlertingMetrics } from './metrics.js';
import { createRulesReloader, type RulesReloader } from './rules/reload.js';
import { type AlertDecoder, type AlertEncoder, decodeAlert as defaultDecodeAlert, encodeAlert as defaultEncodeAlert } from './sinks/alert-codec.js';
import { createDispatcher, type Dispatcher } from './sinks/dispatcher.js';
import { buildSinks } from './sinks/registry.js';
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
 */
export function createAlerting(deps: AlertingDeps): AlertingService {
  const { config, kafka, topics, logger } = deps;
  const log = logger.child({ component: 'alerting' });
  const encodeAlert = deps.encodeAlert ?? defaultEncodeAlert;
  const decodeAlert = deps.decodeAlert ?? defaultDecodeAlert;
  let engine: Engine | undefined;
  const metrics = createAlertingMetrics(deps.registry, () => engine?.stateEntries() ?? 0);
  const admit = createEventGate({ decode: deps.decodeEvent, maxMessageBytes: deps.maxMessageBytes });

  let reloader: RulesReloader | undefined;
  let admin: Admin | undefined;
  let producer: Producer | undefined;
  let consumer: Consumer | undefined;
  let dispatcher: Dispatcher | undefined;
  let server: ObservabilityServer | undefined;
  let ticker: NodeJS.Timeout | undefined;
  let isReady = false;
  let stopping = false;

  /** Per events partition: the next offset this process has not evaluated yet. */
  const seenUpTo = new Map<number, bigint>();
  /** Per alerts partition: how far the alerts topic was read back. */
  const alertsReadUpTo = new Map<number, string>();
  let assigned: number[] = [];
  let rebuilding: Promise<void> = Promise.resolve();
  let lagByPartition = new Map<number, number>();
  let lagCheckedAt = 0;

  const rulesPath = resolveRulesPath(config.rules_file);

  function requireEngine(): Engine {
    if (!engine) throw new AuditstreamError('NOT_STARTED', 'alerting service is not started');
    return engine;
  }

  async function ensureTopics(a: Admin): Promise<void> {
    const existing = new Set(await a.listTopics());
    for (const t of [topics.events, topics.alerts]) {
      if (!existing.has(t)) {
        throw new AuditstreamError('TOPIC_MISSING', `Kafka topic ${t} does not exist (topic auto-creation is off): create it before starting alerting`, {
          field: t === topics.events ? 'topics.events' : 'topics.alerts',
        });
      }
    }
  }

  /** A group that never committed starts where start_from says, pinned before joining so no record falls in between. */
  async function ensureCommittedOffsets(a: Admin): Promise<void> {
    const [committed] = await a.fetchOffsets({ groupId: config.consumer_group, topics: [topics.events] });
    const missingParts = (committed?.partitions ?? []).filter((p) => p.offset === '-1');
    if (missingParts.length === 0) return;
    const marks = await highWatermarks(a, topics.events);
    const partitions = missingParts.map((p) => {
      const m = marks.get(p.partition);
      return { partition: p.partition, offset: (config.start_from === 'earliest' ? m?.low : m?.high) ?? '0' };
    });
    try {
      await a.setOffsets({ groupId: config.consumer_group, topic: topics.events, partitions });
    } catch (err) {
      // Another member is active: it owns the group's offsets.
      log.warn({ err }, 'could not pin the starting offsets of the consumer group (another instance is running?)');
    }
  }

  async function readBackAlerts(a: Admin, e: Engine): Promise<void> {
    const marks = await highWatermarks(a, topics.alerts);
    const needStart = [...marks.keys()].some((p) => !alertsReadUpTo.has(p));
    const start = needStart ? await offsetsAt(a, topics.alerts, Date.now() - config.alerts_lookback_ms) : new Map<number, string>();
    const ranges = [...marks.entries()].map(([partition, m]) => ({
      partition,
      from: alertsReadUpTo.get(partition) ?? start.get(partition) ?? m.low,
      to: m.high,
    }));
    let seeded = 0;
    const n = await readRanges({
      kafka,
      admin: a,
      topic: topics.alerts,
      ranges,
      groupPrefix: config.consumer_group,
      timeoutMs: config.replay_timeout_ms,
      onMessage: (m) => {
        if (!m.value) return;
        try {
          e.seedDelivered(decodeAlert(m.value).alert);
          seeded++;
        } catch (err) {
          log.warn({ err, offset: m.offset }, 'skipping an alerts-topic record that does not decode');
        }
      },
    });
    for (const r of ranges) alertsReadUpTo.set(r.partition, r.to);
    metrics.replayed.inc({ topic: 'alerts' }, n);
    if (n > 0) log.info({ records: n, seeded }, 'read back delivered alerts');
  }

  async function rebuild(partitions: number[]): Promise<void> {
    const a = admin as Admin;
    const e = requireEngine();
    const started = Date.now();
    await readBackAlerts(a, e);
    const [committed] = await a.fetchOffsets({ groupId: config.consumer_group, topics: [topics.events] });
    const committedBy = new Map((committed?.partitions ?? []).map((p) => [p.partition, p.offset]));
    const lookback = e.maxLookbackMs + config.allowed_lateness_ms + config.replay_margin_ms;
    const startAt = await offsetsAt(a, topics.events, Date.now() - lookback);
    const ranges = [];
    for (const p of partitions) {
      const to = committedBy.get(p);
      if (to === undefined || to === '-1') continue;
      const seen = seenUpTo.get(p);
      let from = BigInt(startAt.get(p) ?? to);
      if (seen !== undefined && seen > from) from = seen;
      if (from < BigInt(to)) ranges.push({ partition: p, from: from.toString(), to });
    }
    if (ranges.length === 0) return;
    e.beginReplay(lookback);
    let n = 0;
    try {
      n = await readRanges({
        kafka,
        admin: a,
        topic: topics.events,
        ranges,
        groupPrefix: config.consumer_group,
        timeoutMs: config.replay_timeout_ms,
        onMessage: async (m, partition) => {
          const off = BigInt(m.offset);
          const seen = seenUpTo.get(partition);
          if (seen !== undefined && off < seen) return;
          await evaluate(m);
          seenUpTo.set(partition, off + 1n);
        },
      });
    } finally {
      e.endReplay();
    }
    metrics.replayed.inc({ topic: 'events' }, n);
    log.info({ partitions: ranges.map((r) => r.partition), records: n, ms: Date.now() - started }, 'rebuilt rule windows from the events topic');
  }

  /** Only what ingest would store reaches the rules (gate.ts): an alert never points at a dead letter. */
  async function evaluate(m: KafkaMessage): Promise<void> {
    const a = await admit(m.value, Number(m.timestamp));
    // The Kafka timestamp is the event's arrival: future event times are clamped against it.
    if (a.ok) requireEngine().process(a.event, Number(m.timestamp));
    else {
      if (a.event) requireEngine().observe(a.event, Number(m.timestamp));
      metrics.discarded.inc({ reason: a.reason });
    }
  }

  async function updateLag(): Promise<void> {
    if (!admin || assigned.length === 0) return;
    const marks = await highWatermarks(admin, topics.events);
    const next = new Map<number, number>();
    for (const p of assigned) {
      const high = BigInt(marks.get(p)?.high ?? '0');
      const seen = seenUpTo.get(p);
      // Nothing evaluated yet on the partition: lag unknown until its first batch, unless it is empty.
      next.set(p, seen === undefined ? (high === 0n ? 0 : Number.POSITIVE_INFINITY) : Number(high - seen));
    }
    lagByPartition = next;
  }

  function caughtUp(): boolean {
    for (const lag of lagByPartition.values()) if (lag > config.caught_up_lag_events) return false;
    return true;
  }

  async function waitRebuilt(heartbeat: () => Promise<void>): Promise<void> {
    let done = false;
    const p = rebuilding.then(
      () => {
        done = true;
      },
      () => {
        done = true;
      },
    );
    while (!done) {
      await Promise.race([p, new Promise((r) => setTimeout(r, 2000))]);
      if (!done) await heartbeat().catch(() => undefined);
    }
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
      engine = new Engine({
        rules,
        allowed_lateness_ms: config.allowed_lateness_ms,
        max_future_skew_ms: config.max_future_skew_ms,
        min_update_interval_ms: config.min_update_interval_ms,
        limits: { maxEventsPerKey: config.max_events_per_key, maxKeys: config.max_keys_per_rule, sampleSize: config.sample_event_ids },
        metrics: metrics.engine,
        onAlert: (d: AlertDelivery) => {
          log.info({ alert_id: d.alert.alert_id, rule_id: d.alert.rule_id, kind: d.kind, version: d.alert.version }, 'alert');
          dispatcher?.dispatch(d);
        },
      });
      log.info({ rules: rules.rules.length, file: rulesPath }, 'rules loaded');

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

      admin = kafka.admin();
      await admin.connect();
      await ensureTopics(admin);
      const sinks = await buildSinks(config.sinks, {
        topics,
        encodeAlert,
        producer: async () => {
          if (!producer) {
            producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
            await producer.connect();
          }
          return producer;
        },
      });
      dispatcher = createDispatcher({ sinks: [...sinks, ...(deps.extraSinks ?? [])], metrics: metrics.dispatcher, logger: log });
      // A fresh broker answers group requests with NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS
      // until __consumer_offsets is ready: retriable, so retried here like every other transient error.
      const a = admin;
      await retry(() => ensureCommittedOffsets(a), {
        max_attempts: 20,
        initial_delay_ms: 200,
        max_delay_ms: 3000,
        onRetry: (err, attempt) => log.warn({ err: (err as Error).message, attempt }, 'fetching committed offsets failed; retrying'),
      });

      consumer = kafka.consumer({
        groupId: config.consumer_group,
        allowAutoTopicCreation: false,
        sessionTimeout: config.session_timeout_ms,
        heartbeatInterval: Math.min(3000, Math.floor(config.session_timeout_ms / 3)),
      });
      let firstJoin: (err?: unknown) => void = () => {};
      const joined = new Promise<void>((res, rej) => {
        firstJoin = (err) => (err ? rej(err) : res());
      });
      consumer.on(consumer.events.GROUP_JOIN, (event) => {
        const mine = (event.payload.memberAssignment[topics.events] ?? []).slice().sort((x, y) => x - y);
        assigned = mine;
        log.info({ partitions: mine }, 'joined the consumer group');
        rebuilding = config.replay_on_start ? rebuild(mine) : Promise.resolve();
        rebuilding.then(
          () => firstJoin(),
          (err) => {
            log.error({ err }, 'rebuilding state from Kafka failed; continuing with what was rebuilt');
            firstJoin(err);
          },
        );
      });
      consumer.on(consumer.events.CRASH, (event) => {
        log.error({ err: event.payload.error, restart: event.payload.restart }, 'consumer crashed');
        if (!event.payload.restart) isReady = false;
      });
      await consumer.connect();
      await consumer.subscribe({ topics: [topics.events], fromBeginning: config.start_from === 'earliest' });
      await consumer.run({
        eachBatchAutoResolve: false,
        eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
          await waitRebuilt(heartbeat);
          const p = batch.partition;
          let last = Date.now();
          for (const m of batch.messages) {
            if (!isRunning() || isStale()) break;
            const off = BigInt(m.offset);
            const seen = seenUpTo.get(p);
            if (seen === undefined || off >= seen) {
              await evaluate(m);
              seenUpTo.set(p, off + 1n);
            }
            resolveOffset(m.offset);
            if (Date.now() - last > 2000) {
              await heartbeat();
              last = Date.now();
            }
          }
          lagByPartition.set(p, Number(batch.offsetLag()));
          await heartbeat();
        },
      });
      let startTimer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          joined,
          new Promise((_, rej) => {
            startTimer = setTimeout(
              () =>
                rej(
                  new AuditstreamError('START_TIMEOUT', 'did not join the consumer group and rebuild state in time', { field: 'alerting.replay_timeout_ms' }),
                ),
              config.replay_timeout_ms + 30_000,
            );
          }),
        ]);
      } finally {
        clearTimeout(startTimer);
      }
      ticker = setInterval(() => {
        if (stopping || !engine) return;
        engine.tick(Date.now(), caughtUp());
        if (Date.now() - lagCheckedAt > 5000) {
          lagCheckedAt = Date.now();
          updateLag().catch((err) => log.warn({ err }, 'could not read the events topic high watermarks'));
        }
      }, config.tick_interval_ms);
      ticker.unref();
      isReady = true;
      log.info({ group: config.consumer_group, topic: topics.events }, 'alerting started');
    },

    async stop() {
      stopping = true;
      isReady = false;
      if (ticker) clearInterval(ticker);
      reloader?.close();
      await consumer?.disconnect().catch((err) => log.warn({ err }, 'consumer disconnect failed'));
      await dispatcher?.close(5000);
      await producer?.disconnect().catch(() => undefined);
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
