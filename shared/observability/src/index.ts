export {
  type CpuProfile,
  type CpuProfileSummary,
  formatCpuProfileSummary,
  type ProfileFrame,
  profileLocation,
  profilePackage,
  readCpuProfile,
  type SelfTimeEntry,
  summarizeCpuProfile,
} from './cpuprofile.js';
export { type ObservabilityServer, type ReadinessCheck, startObservabilityServer } from './http.js';
export { createLogger, type Logger } from './logger.js';
export { createMetricsRegistry } from './metrics.js';
export { metricTotal, parsePrometheusText, type Sample, scrapePrometheus } from './prom-text.js';
