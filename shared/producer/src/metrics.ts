import { createRequire } from 'node:module';
import type { Counter, Registry } from 'prom-client';

/**
 * The slice of a prom-client Registry the SDK uses (a prom-client `Registry` is one). Structural,
 * so the installed package needs prom-client only when metrics are wanted (an optional peer).
 */
export interface MetricsRegistry {
  registerMetric(metric: never): void;
  getSingleMetric(name: string): unknown;
}

// prom-client is loaded only when a registry is passed: the package runs without it.
const load = createRequire(import.meta.url);

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

/**
 * A label-less histogram for the per-event publish latency. prom-client's Histogram#observe
 * allocates a closure and a label object on every call, which showed up on the SDK's hot path;
 * this one adds to a Float64Array, and renders exactly like prom-client's at scrape time (it is
 * registered with registry.registerMetric, the same duck-typed interface the registry reads
 * its own metrics through).
 */
/** One line of a histogram, shaped like prom-client's own (exemplar included). */
interface HistogramValue {
  labels: Record<string, string | number>;
  value: number;
  metricName: string;
  exemplar: null | undefined;
}

export class LatencyHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly counts: Float64Array;
  private sum = 0;
  private count = 0;

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly upperBounds: readonly number[],
  ) {
    this.counts = new Float64Array(upperBounds.length + 1);
  }

  observe(value: number): void {
    const b = this.upperBounds;
    let i = 0;
    while (i < b.length && value > (b[i] as number)) i++;
    this.counts[i] = (this.counts[i] as number) + 1;
    this.sum += value;
    this.count++;
  }

  async get(): Promise<{ name: string; help: string; type: string; values: HistogramValue[]; aggregator: string }> {
    const values: HistogramValue[] = [];
    let cumulative = 0;
    for (let i = 0; i < this.upperBounds.length; i++) {
      cumulative += this.counts[i] as number;
      values.push({ labels: { le: this.upperBounds[i] as number }, value: cumulative, metricName: `${this.name}_bucket`, exemplar: null });
    }
    values.push({ labels: { le: '+Inf' }, value: this.count, metricName: `${this.name}_bucket`, exemplar: null });
    values.push({ labels: {}, value: this.sum, metricName: `${this.name}_sum`, exemplar: undefined });
    values.push({ labels: {}, value: this.count, metricName: `${this.name}_count`, exemplar: undefined });
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}

export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

interface Shared {
  published: Counter;
  failed: Counter<'error_type'>;
  duration: LatencyHistogram;
  batches: Counter;
  retries: Counter;
  sources: Set<BufferSource>;
}

// Several producers may share one registry: metrics are registered once per registry and
// the buffer gauges sum every live producer at scrape time (nothing on the hot path).
const perRegistry = new WeakMap<MetricsRegistry, Shared>();

function shared(metricsRegistry: MetricsRegistry): Shared {
  let s = perRegistry.get(metricsRegistry);
  if (s) return s;
  const { Counter, Gauge } = load('prom-client') as typeof import('prom-client');
  const registry = metricsRegistry as unknown as Registry;
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
    duration: new LatencyHistogram('auditstream_producer_publish_duration_seconds', 'From publish() to the Kafka acknowledgement, per event.', LATENCY_BUCKETS),
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
  registry.registerMetric(s.duration as unknown as Parameters<Registry['registerMetric']>[0]);
  perRegistry.set(metricsRegistry, s);
  return s;
}

export function createProducerMetrics(registry: MetricsRegistry | undefined, source: BufferSource): ProducerMetrics {
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
