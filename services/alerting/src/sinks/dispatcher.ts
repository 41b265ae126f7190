import { errorType, type MinimalLogger, retry } from '@auditstream/core';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { AlertDelivery } from '../alert.js';
import type { Sink, SinkQueueOptions } from './types.js';

export interface DispatcherMetrics {
  deliveries: Counter<'sink' | 'result'>;
  failures: Counter<'sink' | 'error_type'>;
  depth: Gauge<'sink'>;
}

export function createDispatcherMetrics(registry: Registry): DispatcherMetrics {
  return {
    deliveries: new Counter({
      name: 'auditstream_alerting_sink_deliveries_total',
      help: 'Alert deliveries per sink by result: delivered, failed (gave up after retries or not retriable), dropped (queue full or shut down).',
      labelNames: ['sink', 'result'],
      registers: [registry],
    }),
    failures: new Counter({
      name: 'auditstream_alerting_sink_failures_total',
      help: 'Failed delivery attempts per sink and error code (each retry counts).',
      labelNames: ['sink', 'error_type'],
      registers: [registry],
    }),
    depth: new Gauge({
      name: 'auditstream_alerting_sink_queue_depth',
      help: 'Deliveries waiting in each sink queue.',
      labelNames: ['sink'],
      registers: [registry],
    }),
  };
}

export interface Dispatcher {
  /** Queues the delivery for every sink that takes it. Never blocks, never throws. */
  dispatch(delivery: AlertDelivery): void;
  /** Resolves when every queue is empty and nothing is in flight (or after timeoutMs). */
  drain(timeoutMs: number): Promise<boolean>;
  /** Drains up to timeoutMs, then aborts in-flight deliveries and drops (counts) the rest. */
  close(timeoutMs: number): Promise<void>;
  depth(sink: string): number;
}

interface Lane {
  sink: Sink;
  opts: SinkQueueOptions;
  queue: AlertDelivery[];
  busy: boolean;
}

/**
 * Fans alerts out to sinks, each with its own bounded queue and worker, so a slow or failing
 * sink never blocks evaluation or the other sinks. Delivery is retried with backoff through
 * retry() from @auditstream/core. A full queue first coalesces: a queued update of the same
 * alert is replaced by the newer one, and an update is dropped to make room for a fired alert;
 * otherwise the new delivery is dropped. Every drop is counted, never silent.
 */
export function createDispatcher(options: {
  sinks: Array<{ sink: Sink; queue: SinkQueueOptions }>;
  metrics: DispatcherMetrics;
  logger?: Pick<MinimalLogger, 'warn' | 'error'>;
}): Dispatcher {
  const abort = new AbortController();
  const lanes: Lane[] = options.sinks.map(({ sink, queue }) => ({ sink, opts: queue, queue: [], busy: false }));
  const { metrics } = options;
  let closed = false;
  let idleWaiters: Array<() => void> = [];

  const isIdle = () => lanes.every((l) => !l.busy && l.queue.length === 0);
  const notifyIdle = () => {
    if (!isIdle()) return;
    const w = idleWaiters;
    idleWaiters = [];
    for (const fn of w) fn();
  };

  function drop(lane: Lane, n = 1) {
    metrics.deliveries.inc({ sink: lane.sink.name, result: 'dropped' }, n);
  }

  function enqueue(lane: Lane, d: AlertDelivery) {
    const q = lane.queue;
    if (d.kind === 'updated') {
      const i = q.findIndex((x) => x.kind === 'updated' && x.alert.alert_id === d.alert.alert_id);
      if (i >= 0) {
        q[i] = d; // coalesce: only the newest version of a pending update matters
        return;
      }
    }
    if (q.length >= lane.opts.queue_size) {
      const i = d.kind === 'fired' ? q.findIndex((x) => x.kind === 'updated') : -1;
      if (i < 0) {
        drop(lane);
        options.logger?.warn({ sink: lane.sink.name, alert_id: d.alert.alert_id, kind: d.kind }, 'sink queue full: delivery dropped');
        return;
      }
      q.splice(i, 1);
      drop(lane);
    }
    q.push(d);
    metrics.depth.set({ sink: lane.sink.name }, q.length);
    if (!lane.busy) void run(lane);
  }

  async function run(lane: Lane) {
    lane.busy = true;
    const name = lane.sink.name;
    try {
      while (lane.queue.length > 0 && !abort.signal.aborted) {
        const d = lane.queue.shift() as AlertDelivery;
        metrics.depth.set({ sink: name }, lane.queue.length);
        try {
          await retry(() => lane.sink.send(d, abort.signal), {
            max_attempts: lane.opts.max_attempts,
            initial_delay_ms: lane.opts.initial_delay_ms,
            max_delay_ms: lane.opts.max_delay_ms,
            signal: abort.signal,
            onRetry: (err) => metrics.failures.inc({ sink: name, error_type: errorType(err) }),
          });
          metrics.deliveries.inc({ sink: name, result: 'delivered' });
        } catch (err) {
          metrics.failures.inc({ sink: name, error_type: errorType(err) });
          if (abort.signal.aborted) {
            drop(lane);
          } else {
            metrics.deliveries.inc({ sink: name, result: 'failed' });
            options.logger?.error({ sink: name, alert_id: d.alert.alert_id, kind: d.kind, err }, 'alert delivery failed');
          }
        }
      }
    } finally {
      lane.busy = false;
      notifyIdle();
    }
  }

  return {
    dispatch(d) {
      for (const lane of lanes) {
        if (d.kind === 'updated' && !lane.sink.sendUpdates) continue;
        if (closed) {
          drop(lane);
          continue;
        }
        enqueue(lane, d);
      }
    },
    drain(timeoutMs) {
      if (isIdle()) return Promise.resolve(true);
      return new Promise<boolean>((resolve) => {
        const t = setTimeout(() => {
          idleWaiters = idleWaiters.filter((w) => w !== done);
          resolve(false);
        }, timeoutMs);
        const done = () => {
          clearTimeout(t);
          resolve(true);
        };
        idleWaiters.push(done);
      });
    },
    async close(timeoutMs) {
      closed = true;
      await this.drain(timeoutMs);
      abort.abort();
      for (const lane of lanes) {
        if (lane.queue.length > 0) drop(lane, lane.queue.length);
        lane.queue = [];
        metrics.depth.set({ sink: lane.sink.name }, 0);
      }
      await this.drain(1000);
      await Promise.all(lanes.map((l) => l.sink.close?.().catch(() => undefined)));
    },
    depth: (sink) => lanes.find((l) => l.sink.name === sink)?.queue.length ?? 0,
  };
}
