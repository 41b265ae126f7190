import { topicWatermarks as highWatermarks, offsetsAtTime as offsetsAt, readRanges } from '@auditstream/kafka';
import type { Logger } from '@auditstream/observability';
import type { Admin, Kafka, KafkaMessage } from 'kafkajs';
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
  metrics: Pick<AlertingMetrics, 'replayed'>;
  log: Logger;
  evaluated: EvaluatedOffsets;
  evaluate: (m: KafkaMessage, partition: number) => Promise<void>;
}

export interface Rebuilder {
  /** Restores the engine's state for the partitions just assigned (see createAlerting, steps 1 and 2). */
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
          e.seedDelivered(o.decodeAlert(m.value).alert);
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

  async function rebuild(a: Admin, e: Engine, partitions: number[]): Promise<void> {
    const started = Date.now();
    await readBackAlerts(a, e);
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
        timeoutMs: config.replay_timeout_ms,
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

  return { rebuild };
}
