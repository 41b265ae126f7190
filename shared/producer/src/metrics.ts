import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** What the producer records; a no-op implementation when no registry is passed. */
export interface ProducerMetrics {
  published(n: number): void;
  failed(errorType: string, n: number): void;
  latency(seconds: number): void;
  batch(): void;
  retry(): void;
  /** Stops reporting this producer's buffer in the gauges (on close). */
  detach(): void;
}

export interface BufferSource {
  buffered_events(): number;
  buffered_bytes(): number;
}

interface Shared {
  published: Counter;
  failed: Counter<'error_type'>;
  duration: Histogram;
  batches: Counter;
  retries: Counter;
  sources: Set<BufferSource>;
}

// Several producers may share one registry: metrics are registered once per registry and
// the buffer gauges sum every live producer at scrape time (nothing on the hot path).
const perRegistry = new WeakMap<Registry, Shared>();

function shared(registry: Registry): Shared {
  let s = perRegistry.get(registry);
  if (s) return s;
  const sources = new Set<BufferSource>();
  const registers = [registry];
  s = {
    sources,
    published: new Counter({ name: 'auditstream_producer_published_events_total', help: 'Events acknowledged by Kafka.', registers }),
    failed: new Counter({
      name: 'auditstream_producer_failed_events_total',
      help: 'Events rejected or not delivered, by error code.',
      labelNames: ['error_type'],
      registers,
    }),
    duration: new Histogram({
      name: 'auditstream_producer_publish_duration_seconds',
      help: 'From publish() to the Kafka acknowledgement, per event.',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    batches: new Counter({ name: 'auditstream_producer_batches_total', help: 'Produce requests sent (one per batch, retries excluded).', registers }),
    retries: new Counter({ name: 'auditstream_producer_retries_total', help: 'Batch send attempts that failed and were retried.', registers }),
  };
  new Gauge({
    name: 'auditstream_producer_buffer_events',
    help: 'Events buffered or in flight, not yet acknowledged.',
    registers,
    collect() {
      let n = 0;
      for (const src of sources) n += src.buffered_events();
      this.set(n);
    },
  });
  new Gauge({
    name: 'auditstream_producer_buffer_bytes',
    help: 'Encoded bytes buffered or in flight, not yet acknowledged.',
    registers,
    collect() {
      let n = 0;
      for (const src of sources) n += src.buffered_bytes();
      this.set(n);
    },
  });
  perRegistry.set(registry, s);
  return s;
}

export function createProducerMetrics(registry: Registry | undefined, source: BufferSource): ProducerMetrics {
  if (!registry) {
    const noop = () => {};
    return { published: noop, failed: noop, latency: noop, batch: noop, retry: noop, detach: noop };
  }
  const s = shared(registry);
  s.sources.add(source);
  return {
    published: (n) => s.published.inc(n),
    failed: (errorType, n) => s.failed.inc({ error_type: errorType }, n),
    latency: (seconds) => s.duration.observe(seconds),
    batch: () => s.batches.inc(),
    retry: () => s.retries.inc(),
    detach: () => s.sources.delete(source),
  };
}
