export { type ObservabilityServer, type ReadinessCheck, startObservabilityServer } from './http.js';
export { createLogger, type Logger } from './logger.js';
export { createMetricsRegistry } from './metrics.js';
