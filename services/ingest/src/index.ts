// services/ingest public API.
export { createIngest, type Ingest, type IngestDeps, type IngestStorage, type StopResult } from './app.js';
export { type IngestSection, type IngestServiceConfig, type IntegritySection, ingestConfigSchema, loadIngestConfig } from './config.js';
export { INGEST_ERROR_CODES, type IngestErrorCode } from './error-codes.js';
export { createIngestIntegrity, type IngestIntegrity, type IngestIntegrityDeps, integrityFromConfig } from './integrity.js';
export { type RunIngestOptions, runIngest } from './main.js';
export { createIngestMetrics, type IngestMetrics } from './metrics.js';
export { createBatcher } from './pipeline/batcher.js';
export { DLQ_HEADERS, headerSafe, toDlqMessage } from './pipeline/dlq.js';
export { createEncryptStage, encryptionFromConfig, type IngestEncryptionDeps } from './pipeline/encrypt.js';
export { createOffsetTracker, type OffsetTracker } from './pipeline/offsets.js';
export { INGEST_STAGES, type TimedStage } from './pipeline/stage-time.js';
export { clickhouseWriter, detectLayout, recordMeta } from './storage.js';
export { countByClass, type DlqEntry, formatDlqReport, parseOffsetList, type ReplayOptions, replayDlq, type ScanOptions, scanDlq } from './tools/dlq.js';
export { type DeadLetter, ERROR_CLASSES, type ErrorClass, type IngestRecord } from './types.js';
