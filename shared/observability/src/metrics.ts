import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * One prom-client registry per process, passed to every component that records
 * metrics. Never the global registry: tests build several services in one process.
 */
export function createMetricsRegistry(options: { service: string; defaultMetrics?: boolean }): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service: options.service });
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'auditstream_' });
  return registry;
}
