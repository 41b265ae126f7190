import { AuditstreamError, retry, withTimeout } from '@auditstream/core';
import { committedOffsets, topicWatermarks as highWatermarks } from '@auditstream/kafka';
import type { Logger } from '@auditstream/observability';
import type { Admin, Consumer, Kafka, KafkaMessage } from 'kafkajs';
import type { AlertingConfig } from './config.js';
import type { EvaluatedOffsets } from './progress.js';

/** Both topics exist before anything starts: topic auto-creation is off. */
export async function ensureTopics(a: Admin, topics: { readonly events: string; readonly alerts: string }): Promise<void> {
  const existing = new Set(await a.listTopics());
  for (const t of [topics.events, topics.alerts]) {
    if (!existing.has(t)) {
      throw new AuditstreamError('TOPIC_MISSING', `Kafka topic ${t} does not exist (topic auto-creation is off): create it before starting alerting`, {
        field: t === topics.events ? 'topics.events' : 'topics.alerts',
      });
    }
  }
}

export interface EventsConsumerOptions {
  kafka: Kafka;
  admin: Admin;
  config: AlertingConfig;
  /** The topic evaluated: topics.events, or the repartition topic when scaled out. */
  topic: string;
  /** Default config.consumer_group. */
  group?: string;
  /** Where the group starts when it never committed; default config.start_from. */
  startFrom?: 'earliest' | 'latest';
  log: Logger;
  evaluated: EvaluatedOffsets;
  evaluate: (m: KafkaMessage, partition: number) => Promise<void>;
  /** Runs at every group join; live batches wait for it (replay.ts). */
  onJoin: (partitions: number[]) => Promise<void>;
  /** The consumer crashed and kafkajs will not restart it. */
  onFatal: () => void;
}

export interface EventsConsumer {
  /** Every assigned partition has a known lag, within `caught_up_lag_events` of its high watermark. */
  caughtUp(): boolean;
  /** Re-reads the high watermarks (the lag of partitions without a recent batch). */
  updateLag(): Promise<void>;
  disconnect(): Promise<void>;
}

/**
 * Joins the consumer group on the events topic and evaluates each record once, after the
 * rebuild of the join it belongs to. Resolves once the first join's rebuild is done.
 */
export async function startEventsConsumer(o: EventsConsumerOptions): Promise<EventsConsumer> {
  const { kafka, admin, config, topic, log, evaluated } = o;
  const groupId = o.group ?? config.consumer_group;
  const startFrom = o.startFrom ?? config.start_from;
  let assigned: number[] = [];
  let rebuilding: Promise<void> = Promise.resolve();
  let lagByPartition = new Map<number, number>();

  // A fresh broker answers group requests with NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS
  // until __consumer_offsets is ready: retriable, so retried here like every other transient error.
  await retry(() => ensureCommittedOffsets(admin, { group: groupId, topic, startFrom }, log), {
    max_attempts: 20,
    initial_delay_ms: 200,
    max_delay_ms: 3000,
    onRetry: (err, attempt) => log.warn({ err: (err as Error).message, attempt }, 'fetching committed offsets failed; retrying'),
  });

  /** Live batches wait for the rebuild, heartbeating so the group does not evict this member meanwhile. */
  async function waitRebuilt(heartbeat: () => Promise<void>): Promise<void> {
    let done = false;
    const settled = rebuilding.then(
      () => {
        done = true;
      },
      () => {
        done = true;
      },
    );
    while (!done) {
      await withTimeout(settled, 2000, () => undefined);
      if (!done) await heartbeat().catch(() => undefined);
    }
  }

  const consumer: Consumer = kafka.consumer({
    groupId,
    allowAutoTopicCreation: false,
    sessionTimeout: config.session_timeout_ms,
    heartbeatInterval: Math.min(3000, Math.floor(config.session_timeout_ms / 3)),
  });
  let firstJoin: (err?: unknown) => void = () => {};
  const joined = new Promise<void>((res, rej) => {
    firstJoin = (err) => (err ? rej(err) : res());
  });
  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    const mine = (event.payload.memberAssignment[topic] ?? []).slice().sort((x, y) => x - y);
    assigned = mine;
    log.info({ group: groupId, partitions: mine }, 'joined the consumer group');
    rebuilding = o.onJoin(mine);
    rebuilding.then(
      () => firstJoin(),
      (err) => {
        // The first join fails the start; a later one goes on live, and says what that risks.
        log.error(
          { err },
          'rebuilding rule state failed (auditstream_alerting_rebuild_errors_total{outcome="failed"}); evaluating live events without the windows it would have restored: an incident straddling this join may be missed',
        );
        firstJoin(err);
      },
    );
  });
  consumer.on(consumer.events.CRASH, (event) => {
    log.error({ err: event.payload.error, restart: event.payload.restart }, 'consumer crashed');
    if (!event.payload.restart) o.onFatal();
  });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: startFrom === 'earliest' });
    await consumer.run({
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        await waitRebuilt(heartbeat);
        const p = batch.partition;
        let last = Date.now();
        for (const m of batch.messages) {
          if (!isRunning() || isStale()) break;
          await evaluated.once(p, m, o.evaluate);
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
    await withTimeout(joined, config.replay_timeout_ms + 30_000, () => {
      throw new AuditstreamError('START_TIMEOUT', 'did not join the consumer group and rebuild state in time', { field: 'alerting.replay_timeout_ms' });
    });
  } catch (err) {
    await consumer.disconnect().catch(() => undefined);
    throw err;
  }

  return {
    caughtUp: () => allCaughtUp(assigned, lagByPartition, config.caught_up_lag_events),
    async updateLag() {
      if (assigned.length === 0) return;
      lagByPartition = await partitionLags(admin, { group: groupId, topic, partitions: assigned, readNext: (p) => evaluated.get(p) });
    },
    async disconnect() {
      await consumer.disconnect();
      // A rebuild still running would go on using the admin after the app disconnects it, and kafkajs
      // reconnects on use: those connections would never close (a stopped instance that never exits).
      await withTimeout(
        rebuilding.catch(() => undefined),
        config.replay_timeout_ms,
        () => log.warn('a rebuild was still running at stop; stopping without waiting for it'),
      );
    },
  };
}

/** Every assigned partition has a known lag within `maxLag`: one not yet measured may hold a backlog. */
export function allCaughtUp(assigned: readonly number[], lag: ReadonlyMap<number, number>, maxLag: number): boolean {
  for (const p of assigned) if (!((lag.get(p) ?? Number.POSITIVE_INFINITY) <= maxLag)) return false;
  return true;
}

/**
 * Lag per partition: high watermark minus the next offset this process reads (`readNext`), or,
 * for a partition nothing was read from yet, minus the group's committed offset (start_from
 * latest on a quiet partition is at its end, not behind); unknown (infinite) on a non-empty
 * partition with neither.
 */
export async function partitionLags(
  a: Admin,
  o: { group: string; topic: string; partitions: readonly number[]; readNext: (partition: number) => bigint | undefined },
): Promise<Map<number, number>> {
  const marks = await highWatermarks(a, o.topic);
  const committed = o.partitions.some((p) => o.readNext(p) === undefined) ? await committedOffsets(a, o.group, o.topic) : undefined;
  const lag = new Map<number, number>();
  for (const p of o.partitions) {
    const high = BigInt(marks.get(p)?.high ?? '0');
    const c = committed?.get(p);
    const from = o.readNext(p) ?? (c === undefined ? undefined : BigInt(c));
    lag.set(p, from === undefined ? (high === 0n ? 0 : Number.POSITIVE_INFINITY) : Math.max(0, Number(high - from)));
  }
  return lag;
}

/** A group that never committed starts where start_from says, pinned before joining so no record falls in between. */
export async function ensureCommittedOffsets(
  a: Admin,
  { group, topic, startFrom }: { group: string; topic: string; startFrom: 'earliest' | 'latest' },
  log: Logger,
): Promise<void> {
  const [committed] = await a.fetchOffsets({ groupId: group, topics: [topic] });
  const missingParts = (committed?.partitions ?? []).filter((p) => p.offset === '-1');
  if (missingParts.length === 0) return;
  const marks = await highWatermarks(a, topic);
  const partitions = missingParts.map((p) => {
    const m = marks.get(p.partition);
    return { partition: p.partition, offset: (startFrom === 'earliest' ? m?.low : m?.high) ?? '0' };
  });
  try {
    await a.setOffsets({ groupId: group, topic, partitions });
  } catch (err) {
    // Another member is active: it owns the group's offsets.
    log.warn({ err }, 'could not pin the starting offsets of the consumer group (another instance is running?)');
  }
}
