export {
  AuditstreamError,
  type AuditstreamErrorOptions,
  CORE_ERROR_CODES,
  type CoreErrorCode,
  errorType,
  isAuditstreamError,
  isRetriable,
  TRANSIENT_NODE_CODES,
} from './errors.js';
export { Fifo } from './fifo.js';
export { UUID_V7_RE, uniqueName, uuidv7 } from './ids.js';
export type { MinimalLogger } from './logger.js';
export { repoRoot, stateDir } from './paths.js';
export { type BackoffOptions, backoffDelay, type RetryOptions, retry, sleep } from './retry.js';
export { withTimeout } from './timeout.js';
