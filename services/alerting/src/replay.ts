import { AuditstreamError, retry } from '@auditstream/core';
import { topicWatermarks as highWatermarks, isRetriableKafkaError, offsetsAtTime as offsetsAt, readRanges } from '@auditstream/kafka';
import type { Logger } from '@auditstream/observability';
import type { Admin, Kafka, KafkaMessage } from 'kafkajs';
import type { Alert } from './alert.js';
import type { AlertingConfig } from './config.js';
import type { Engine } from './engine.js';
import type { AlertingMetrics } from './metrics.js';
import type { EvaluatedOffsets } from './progress.js';
import type { AlertDecoder } from './sinks/alert-codec.js';

export interface RebuilderOptions {
  kafka: Kafka;
  config: AlertingConfig;
  topics: { readonly events: string; readonly alerts: string };
  /** The topic evaluated and its group, when not topics.events and config.consumer_group (the repartition topic). */
  source?: { topic: string; group: string };
  decodeAlert: AlertDecoder;
  /** Alerts read back whose personal values were protected (protect.ts): their clear values, as the engine keys its state. */
  restoreAlert?: ((alert: Alert) => Promise<Alert>) | undefined;
  metrics: Pick<AlertingMetrics, 'replayed' | 'rebuildErrors'>;
  log: Logger;
  evaluated: EvaluatedOffsets;
  evaluate: (m: KafkaMessage, partition: number) => Promise<void>;
}

export interface Rebuilder {
  /**
   * Restores the engine's state for the partitions just assigned (see createAlerting, steps 1 and 2).
   * Rejects with REBUILD_FAILED on a data error, or when retriable Kafka errors outlast replay_timeout_ms.
   */
  rebuild(admin: Admin, engine: Engine, partitions: number[]): Promise<void>;
}

/**
 * The rebuild at group join: read the alerts topic back (what was delivered), then replay the
 * events of the assigned partitions from the longest rule window ago up to the committed offset.
 */
export function createRebuilder(o: RebuilderOptions): Rebuilder {
  const { kafka, config, topics, log, metrics } = o;
  const source = o.source ?? { topic: topics.events, group: config.consumer_group };
  /** Per alerts partition: how far the alerts topic was read back, so later joins read only what is new. */
  const alertsReadUpTo = new Map<number, string>();

  async function readBackAlerts(a: Admin, e: Engine, deadline: number): Promise<void> {
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
      timeoutMs: remaining(deadline),
      onMessage: async (m) => {
        if (!m.value) return;
        let alert: Alert;
        try {
          alert = o.decodeAlert(m.value).alert;
        } catch (err) {
          log.warn({ err, offset: m.offset }, 'skipping an alerts-topic record that does not decode');
          return;
        }
        if (o.restoreAlert) {
          // A key store outage must not block the start: the alert id (dedupe) needs no clear value;
          // only the incident's continuity is lost (a later trigger opens a new incident).
          alert = await o.restoreAlert(alert).catch((err: unknown) => {
            log.warn(
              { err_code: (err as { code?: string }).code ?? 'unknown', alert_id: alert.alert_id },
              'could not restore the personal values of an alert read back',
            );
            return alert;
          });
        }
        e.seedDelivered(alert);
        seeded++;
      },
    });
    for (const r of ranges) alertsReadUpTo.set(r.partition, r.to);
    metrics.replayed.inc({ topic: 'alerts' }, n);
    if (n > 0) log.info({ records: n, seeded }, 'read back delivered alerts');
  }

  /**
   * One attempt. Safe to repeat after a failure part way: the alerts read-back advances only when
   * it completes (and seeding an alert twice is harmless), and a record an earlier attempt
   * evaluated is skipped (EvaluatedOffsets).
   */
  async function rebuildOnce(a: Admin, e: Engine, partitions: number[], started: number, deadline: number): Promise<void> {
    await readBackAlerts(a, e, deadline);
    const [committed] = await a.fetchOffsets({ groupId: source.group, topics: [source.topic] });
    const committedBy = new Map((committed?.partitions ?? []).map((p) => [p.partition, p.offset]));
    const lookback = e.maxLookbackMs + config.allowed_lateness_ms + config.replay_margin_ms;
    const startAt = await offsetsAt(a, source.topic, Date.now() - lookback);
    const ranges = [];
    for (const p of partitions) {
      const to = committedBy.get(p);
      if (to === undefined || to === '-1') continue;
      const seen = o.evaluated.get(p);
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
        topic: source.topic,
        ranges,
        groupPrefix: config.consumer_group,
        timeoutMs: remaining(deadline),
        onMessage: async (m, partition) => {
          await o.evaluated.once(partition, m, o.evaluate);
        },
      });
    } finally {
      e.endReplay();
    }
    metrics.replayed.inc({ topic: 'events' }, n);
    log.info({ partitions: ranges.map((r) => r.partition), records: n, ms: Date.now() - started }, 'rebuilt rule windows from the events topic');
  }

  /**
   * Retries an attempt that failed on a retriable Kafka error (right after the repartition topic is
   * created its partitions answer UNKNOWN_TOPIC_OR_PARTITION for a while) until replay_timeout_ms:
   * going on with half-rebuilt windows would miss an incident that straddles the join.
   */
  async function rebuild(a: Admin, e: Engine, partitions: number[]): Promise<void> {
    const started = Date.now();
    const deadline = started + config.replay_timeout_ms;
    try {
      await retry(() => rebuildOnce(a, e, partitions, started, deadline), {
        max_attempts: Number.POSITIVE_INFINITY,
        max_elapsed_ms: config.replay_timeout_ms,
        initial_delay_ms: 200,
        max_delay_ms: 5000,
        shouldRetry: isRetriableKafkaError,
        onRetry: (err, attempt, delayMs) => {
          metrics.rebuildErrors.inc({ outcome: 'retried' });
          log.warn({ err: (err as Error).message, attempt, delayMs }, 'rebuilding rule state hit a retriable Kafka error; retrying');
        },
      });
    } catch (err) {
      metrics.rebuildErrors.inc({ outcome: 'failed' });
      const message = isRetriableKafkaError(err)
        ? `rebuilding rule state at group join did not succeed within alerting.replay_timeout_ms (${config.replay_timeout_ms} ms): ${(err as Error).message}`
        : `rebuilding rule state at group join failed on an error a retry would not fix: ${(err as Error).message}`;
      throw new AuditstreamError('REBUILD_FAILED', message, { field: 'alerting.replay_timeout_ms', cause: err });
    }
  }

  return { rebuild };
}

/** What is left of the rebuild's time for one read (at least 1 ms: readRanges then times out at once). */
const remaining = (deadline: number) => Math.max(1, deadline - Date.now());
