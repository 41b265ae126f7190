import type { ClickHouse } from '@auditstream/clickhouse';
import type { MinimalLogger } from '@auditstream/core';
import type { Kafka, Producer } from 'kafkajs';
import type { AlertProtector } from '../protect.js';
import type { AlertEncoder } from './alert-codec.js';
import { createDispatcher, type Dispatcher, type DispatcherMetrics } from './dispatcher.js';
import { buildSinks } from './registry.js';
import type { Sink, SinkQueueOptions } from './types.js';

export interface DeliveryOptions {
  kafka: Kafka;
  /** `alerting.sinks`, as the sink modules parsed it. */
  sinks: Readonly<Record<string, unknown>>;
  topics: { readonly alerts: string };
  encodeAlert: AlertEncoder;
  /** Makes the ClickHouse client of the sinks that store alerts (called once, on first use). */
  clickhouse?: (() => ClickHouse) | undefined;
  /** Additional sinks (tests); they get the same queueing and retries. */
  extraSinks?: Array<{ sink: Sink; queue: SinkQueueOptions }>;
  metrics: DispatcherMetrics;
  /** Rewrites the personal values of alerts (protect.ts): always for the ClickHouse history, for the other sinks unless includePii. */
  protect?: { protector: AlertProtector; includePii: boolean } | undefined;
  logger: Pick<MinimalLogger, 'warn' | 'error'>;
}

export interface Delivery {
  readonly dispatcher: Dispatcher;
  /** Drains the sinks for up to timeoutMs, then disconnects the shared producer and closes the ClickHouse client. */
  close(timeoutMs: number): Promise<void>;
}

/**
 * The enabled sinks built from config behind one dispatcher. The Kafka-backed sinks share one
 * idempotent producer, connected only when a sink asks for it; likewise one ClickHouse client.
 */
export async function startDelivery(o: DeliveryOptions): Promise<Delivery> {
  let producer: Producer | undefined;
  let ch: ClickHouse | undefined;
  const disconnect = async () => {
    await producer?.disconnect().catch(() => undefined);
    await ch?.close().catch(() => undefined);
  };
  const makeClickHouse = o.clickhouse;
  let sinks: Array<{ sink: Sink; queue: SinkQueueOptions }>;
  try {
    sinks = await buildSinks(o.sinks, {
      topics: o.topics,
      encodeAlert: o.encodeAlert,
      producer: async () => {
        if (!producer) {
          producer = o.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
          await producer.connect();
        }
        return producer;
      },
      ...(makeClickHouse
        ? {
            clickhouse: () => {
              ch ??= makeClickHouse();
              return ch;
            },
          }
        : {}),
    });
  } catch (err) {
    await disconnect();
    throw err;
  }
  const all = [...sinks, ...(o.extraSinks ?? [])].map((s) => (o.protect ? { ...s, sink: protectedSink(s.sink, o.protect) } : s));
  const dispatcher = createDispatcher({ sinks: all, metrics: o.metrics, logger: o.logger });
  return {
    dispatcher,
    async close(timeoutMs) {
      await dispatcher.close(timeoutMs);
      await disconnect();
    },
  };
}

/**
 * A sink that gets alerts with their personal values protected. The ClickHouse history always
 * does (the API reveals them to PII callers, erase shreds them); the others unless
 * alerting.sinks_include_pii. Inside the sink's retries: a key store outage delays, never leaks.
 */
function protectedSink(sink: Sink, p: { protector: AlertProtector; includePii: boolean }): Sink {
  if (p.includePii && sink.name !== 'clickhouse') return sink;
  return { ...sink, send: async (d, signal) => sink.send({ kind: d.kind, alert: await p.protector.protect(d.alert) }, signal) };
}
