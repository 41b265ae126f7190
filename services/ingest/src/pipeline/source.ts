import type { Logger } from '@auditstream/observability';
import type { Batch, Consumer, Kafka } from 'kafkajs';
import type { SourceMessage } from '../types.js';

export interface SourceConfig {
  topic: string;
  groupId: string;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  rebalanceTimeoutMs: number;
  fetchMinBytes: number;
  fetchMaxBytes: number;
  fetchMaxPartitionBytes: number;
  /** The broker holds a fetch this long at most waiting for fetchMinBytes. */
  fetchMaxWaitMs: number;
  partitionsConsumedConcurrently: number;
}

/** What the pipeline gets for each fetched partition batch. */
export interface PartitionBatch {
  topic: string;
  partition: number;
  messages: SourceMessage[];
  /** Last offset the batch covers (may be past the last message: control records). */
  lastOffset: string;
  highWatermark: string;
  /** Heartbeat to the group coordinator; throws when the group is rebalancing. */
  heartbeat: () => Promise<void>;
  /** Commits offsets directly (works while the consumer is stopping, unlike consumer.commitOffsets). */
  commit: (offsets: { partition: number; offset: string }[]) => Promise<void>;
}

export interface SourceEvents {
  /** After every (re)join: the partitions of the topic this instance now owns. */
  onAssigned(partitions: number[]): void;
  /** The consumer crashed; `restart` says whether kafkajs restarts it by itself. */
  onCrash(err: unknown, restart: boolean): void;
}

export interface Source {
  start(handler: (batch: PartitionBatch) => Promise<void>): Promise<void>;
  /** Stops fetching, waits for running batch handlers, leaves the group, disconnects. */
  stop(): Promise<void>;
  consumer: Consumer;
  /** Partitions owned right now (empty before the first join). */
  assigned(): number[];
  joined(): boolean;
}

function messageSize(m: Batch['messages'][number]): number {
  let n = (m.key?.length ?? 0) + (m.value?.length ?? 0);
  const headers = m.headers;
  // for…in over kafkajs's plain header object: no entries array per message.
  if (headers)
    for (const k in headers) {
      if (!Object.hasOwn(headers, k)) continue;
      const v = headers[k];
      n += k.length;
      if (Array.isArray(v)) for (const x of v) n += x.length;
      else if (v !== undefined) n += v.length;
    }
  return n;
}

/**
 * The Kafka side: one consumer in the shared group, manual commits only (autoCommit off),
 * eachBatch so a handler sees a partition's batch at once. kafkajs fetches the next round
 * only after every handler of this round has returned, and it rejoins the group after a
 * rebalance only then too: the pipeline's handlers return once their messages are stored
 * and committed, which makes "flush and commit before giving partitions up" hold.
 */
export function createSource(kafka: Kafka, cfg: SourceConfig, events: SourceEvents, logger: Logger): Source {
  const consumer = kafka.consumer({
    groupId: cfg.groupId,
    sessionTimeout: cfg.sessionTimeoutMs,
    heartbeatInterval: cfg.heartbeatIntervalMs,
    rebalanceTimeout: cfg.rebalanceTimeoutMs,
    minBytes: cfg.fetchMinBytes,
    maxBytes: cfg.fetchMaxBytes,
    maxBytesPerPartition: cfg.fetchMaxPartitionBytes,
    maxWaitTimeInMs: cfg.fetchMaxWaitMs,
    allowAutoTopicCreation: false,
    retry: { retries: 10, initialRetryTime: 300, maxRetryTime: 30_000 },
  });
  let assigned: number[] = [];
  let joined = false;

  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    joined = true;
    assigned = [...(e.payload.memberAssignment[cfg.topic] ?? [])].sort((a, b) => a - b);
    logger.info({ generation: e.payload.groupId, partitions: assigned, leader: e.payload.isLeader }, 'joined the consumer group');
    events.onAssigned(assigned);
  });
  consumer.on(consumer.events.REBALANCING, () => {
    logger.info('the consumer group is rebalancing');
  });
  consumer.on(consumer.events.CRASH, (e) => {
    joined = false;
    events.onCrash(e.payload.error, e.payload.restart);
  });
  consumer.on(consumer.events.DISCONNECT, () => {
    joined = false;
  });
  consumer.on(consumer.events.STOP, () => {
    joined = false;
  });

  return {
    consumer,
    assigned: () => assigned,
    joined: () => joined,
    async start(handler) {
      await consumer.connect();
      await consumer.subscribe({ topics: [cfg.topic], fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        // kafkajs fetches from resolved offsets: resolve a batch once its handler returned (never committed by kafkajs: autoCommit is off).
        eachBatchAutoResolve: true,
        partitionsConsumedConcurrently: cfg.partitionsConsumedConcurrently,
        eachBatch: async ({ batch, heartbeat, commitOffsetsIfNecessary }) => {
          const messages: SourceMessage[] = batch.messages.map((m) => ({
            topic: batch.topic,
            partition: batch.partition,
            offset: m.offset,
            timestamp: m.timestamp,
            key: m.key ?? null,
            value: m.value ?? null,
            headers: (m.headers ?? {}) as SourceMessage['headers'],
            size: messageSize(m),
          }));
          await handler({
            topic: batch.topic,
            partition: batch.partition,
            messages,
            lastOffset: batch.lastOffset(),
            highWatermark: batch.highWatermark,
            heartbeat,
            commit: (offsets) => commitOffsetsIfNecessary({ topics: [{ topic: batch.topic, partitions: offsets }] }),
          });
        },
      });
    },
    async stop() {
      await consumer.stop();
      await consumer.disconnect();
    },
  };
}
