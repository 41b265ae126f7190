import { AuditstreamError, retry } from '@auditstream/core';
import type { IngestMetrics } from '../metrics.js';
import type { IngestRecord } from '../types.js';
import { FatalIngestError } from './process.js';
import { timeStage } from './stage-time.js';

/**
 * The storage module's part ingest uses (@auditstream/clickhouse): row mapping and one
 * INSERT. Both throw AuditstreamErrors classified by the storage module: CLICKHOUSE_DATA
 * (the rows are bad), CLICKHOUSE_AUTH, and `retriable` ones (network, 5xx, timeouts).
 */
export interface StorageWriter<Row = unknown> {
  toRow(record: IngestRecord): Row;
  insert(rows: Row[]): Promise<void>;
  /**
   * Bookkeeping due for rows `insert` stored, before their offsets are committed (the exact-count
   * duplicate record). Retried on its own: the rows are stored, inserting them again would add copies.
   */
  afterInsert?(rows: Row[]): Promise<void>;
  /** Turns whatever the client threw into a classified AuditstreamError. */
  classify(err: unknown): AuditstreamError;
}

export interface SinkDeps<Row> {
  storage: StorageWriter<Row>;
  metrics: Pick<IngestMetrics, 'insertRetries' | 'errors' | 'stageSeconds'>;
  retry: { initial_delay_ms: number; max_delay_ms: number };
  /** Aborted when the service gives up (shutdown bound): retries stop, the flush fails. */
  signal: AbortSignal;
  onRetry?: (err: AuditstreamError, attempt: number, delayMs: number, stage: 'insert' | 'after_insert') => void;
}

export interface WriteResult {
  inserted: IngestRecord[];
  rejected: { record: IngestRecord; reason: string }[];
  /** INSERT statements sent (1 when nothing was bad; more while isolating bad rows). */
  statements: number;
}

/** Data errors isolate the bad rows; these stop the service (retrying or dead-lettering would not help). */
const FATAL = new Map<string, string>([
  ['CLICKHOUSE_AUTH', 'ClickHouse rejected the credentials: check clickhouse.username and clickhouse.password(_file); ingest stops'],
  ['CLICKHOUSE_DENIED', 'ClickHouse denied the INSERT to this account: grant INSERT on the events table; ingest stops'],
  ['CLICKHOUSE_SCHEMA', 'the ClickHouse events table is missing or differs: run `auditstream migrate`; ingest stops'],
]);

/**
 * Writes records with one INSERT when it can. Transient failures (network, 5xx, timeouts,
 * overload) are retried with backoff and jitter for as long as the service runs. A data
 * error bisects the batch: halves are inserted separately until the rows ClickHouse refuses
 * are isolated (log2(n) levels), and those come back as `rejected` for the dead-letter topic.
 * Authentication, permission and schema errors, and anything unclassified, throw
 * FatalIngestError: nothing of the batch is committed, and the service stops.
 */
export function createSink<Row>(deps: SinkDeps<Row>): (records: readonly IngestRecord[]) => Promise<WriteResult> {
  const { storage, metrics } = deps;

  async function withRetry(stage: 'insert' | 'after_insert', work: () => Promise<void>): Promise<void> {
    await retry(
      async () => {
        try {
          await work();
        } catch (err) {
          throw storage.classify(err);
        }
      },
      {
        ...deps.retry,
        max_attempts: Number.POSITIVE_INFINITY,
        shouldRetry: (err) => (err as AuditstreamError).retriable && !deps.signal.aborted,
        onRetry: (err, attempt, delay) => {
          const e = err as AuditstreamError;
          metrics.insertRetries.inc();
          metrics.errors.inc({ stage, error_type: e.code });
          deps.onRetry?.(e, attempt, delay, stage);
        },
        signal: deps.signal,
      },
    );
  }

  function fatal(err: AuditstreamError, stage: 'insert' | 'after_insert' = 'insert'): never {
    metrics.errors.inc({ stage, error_type: err.code });
    const what = stage === 'insert' ? 'the INSERT' : 'the exact-count record of stored rows';
    const why = FATAL.get(err.code);
    if (why) throw new FatalIngestError(err.code, `${why} (${err.message})`, { cause: err });
    if (err.retriable)
      throw new FatalIngestError(err.code, `ClickHouse still failing ${what} when the service stopped: ${err.message}`, { cause: err, retriable: true });
    throw new FatalIngestError(err.code, `ClickHouse refused ${what}: ${err.message}; ingest stops`, { cause: err });
  }

  /**
   * After a successful INSERT: any failure here is fatal (never a reason to insert the rows again).
   * Each attempt is timed, not the backoff between them, as for the INSERT.
   */
  async function afterInsert(rows: Row[]): Promise<void> {
    const after = storage.afterInsert;
    if (!after) return;
    try {
      await withRetry('after_insert', () => timeStage(metrics, 'after_insert', () => after(rows)));
    } catch (err) {
      fatal(err instanceof AuditstreamError ? err : storage.classify(err), 'after_insert');
    }
  }

  return async (records) => {
    const result: WriteResult = { inserted: [], rejected: [], statements: 0 };
    const rows: Row[] = [];
    const mapped: IngestRecord[] = [];
    const mappingStarted = performance.now();
    for (const r of records) {
      try {
        rows.push(storage.toRow(r));
        mapped.push(r);
      } catch (err) {
        const e = storage.classify(err);
        if (e.code !== 'CLICKHOUSE_DATA') throw err;
        metrics.errors.inc({ stage: 'row_mapping', error_type: e.code });
        result.rejected.push({ record: r, reason: `${e.code}${e.field ? ` (${e.field})` : ''}: ${e.message}` });
      }
    }

    metrics.stageSeconds.inc({ stage: 'row_mapping' }, (performance.now() - mappingStarted) / 1000);

    async function write(lo: number, hi: number): Promise<void> {
      if (hi <= lo) return;
      result.statements++;
      const slice = rows.slice(lo, hi);
      try {
        await withRetry('insert', () => storage.insert(slice));
      } catch (err) {
        const e = err instanceof AuditstreamError ? err : storage.classify(err);
        if (e.code !== 'CLICKHOUSE_DATA') fatal(e);
        metrics.errors.inc({ stage: 'insert', error_type: e.code });
        if (hi - lo === 1) {
          result.rejected.push({ record: mapped[lo] as IngestRecord, reason: `${e.code}${e.field ? ` (${e.field})` : ''}: ${e.message}` });
          return;
        }
        const mid = lo + Math.ceil((hi - lo) / 2);
        await write(lo, mid);
        await write(mid, hi);
        return;
      }
      await afterInsert(slice);
      for (let i = lo; i < hi; i++) result.inserted.push(mapped[i] as IngestRecord);
    }

    await write(0, rows.length);
    return result;
  };
}
