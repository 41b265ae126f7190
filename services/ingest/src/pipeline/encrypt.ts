import type { ClickHouse } from '@auditstream/clickhouse';
import { type DeepReadonly, type EncryptionSection, resolveSecret } from '@auditstream/config';
import { AuditstreamError, retry } from '@auditstream/core';
import {
  createLocalKeyWrapper,
  createSubjectKeyStore,
  encryptEventFields,
  type KeyWrapper,
  loadMasterKeys,
  needsEncryption,
  type SubjectKeyStore,
  subjectKey,
  subjectOf,
} from '@auditstream/crypto';
import type { IngestMetrics } from '../metrics.js';
import type { IngestRecord } from '../types.js';
import { FatalIngestError } from './process.js';

/** What ingest needs to encrypt: the key store (wrapping included) and which fields, of whom. */
export interface IngestEncryptionDeps {
  store: SubjectKeyStore;
  fields: readonly string[];
  subjectField: string;
}

/**
 * The encrypt stage. It runs at flush time on the records of one INSERT: after decode, validation,
 * enrichment and redaction (those ran when the message was processed; geo and user-agent
 * enrichment read the clear values first), and BEFORE rows are mapped and hash-chained, so the
 * chain covers the ciphertext. Keys of every subject of the batch are fetched (or created) in one
 * round trip; a ClickHouse failure is retried like an INSERT, for as long as the service runs.
 * Encryption is deterministic (see @auditstream/crypto), so a record encrypted again after a
 * retry or a re-delivery gives the same row; records already encrypted are skipped.
 */
export function createEncryptStage(deps: {
  encryption: IngestEncryptionDeps;
  metrics: Pick<IngestMetrics, 'errors' | 'encryptedFields'>;
  retry: { initial_delay_ms: number; max_delay_ms: number };
  signal: AbortSignal;
  onRetry?: (err: AuditstreamError, attempt: number) => void;
}): (records: readonly IngestRecord[]) => Promise<void> {
  const { store, fields, subjectField } = deps.encryption;
  const done = new WeakSet<IngestRecord>();
  return async (records) => {
    // Only events with something to encrypt need (and create) their subject's key.
    const todo = records.filter((r) => !done.has(r) && needsEncryption(r.event as never, fields));
    if (todo.length === 0 || fields.length === 0) return;
    const refs = new Map<string, { tenant: string; subject: string }>();
    for (const r of todo) {
      const ref = { tenant: r.event.tenant_id, subject: subjectOf(r.event as never, subjectField) };
      refs.set(subjectKey(ref.tenant, ref.subject), ref);
    }
    let keys: Awaited<ReturnType<SubjectKeyStore['keysFor']>>;
    try {
      keys = await retry(() => store.keysFor([...refs.values()]), {
        ...deps.retry,
        max_attempts: Number.POSITIVE_INFINITY,
        shouldRetry: (err) => (err as AuditstreamError).retriable === true && !deps.signal.aborted,
        onRetry: (err, attempt) => {
          const e = err as AuditstreamError;
          deps.metrics.errors.inc({ stage: 'encrypt', error_type: e.code ?? 'other' });
          deps.onRetry?.(e, attempt);
        },
        signal: deps.signal,
      });
    } catch (err) {
      const e = err as AuditstreamError;
      deps.metrics.errors.inc({ stage: 'encrypt', error_type: e?.code ?? 'other' });
      throw new FatalIngestError(e?.code ?? 'ENCRYPTION_FAILED', `fetching or creating subject keys failed: ${e?.message ?? String(err)}; ingest stops`, {
        cause: err,
        retriable: e?.retriable === true,
      });
    }
    let n = 0;
    for (const r of todo) {
      const key = keys.get(subjectKey(r.event.tenant_id, subjectOf(r.event as never, subjectField)));
      if (!key) throw new FatalIngestError('ENCRYPTION_FAILED', 'no data key for a subject of the batch; ingest stops');
      n += encryptEventFields(r.event as never, fields, key);
      done.add(r);
    }
    if (n > 0) deps.metrics.encryptedFields.inc(n);
  };
}

/**
 * From config: undefined when encryption is off; else the master key (fail fast, naming the key,
 * when it is missing or malformed) and a subject key store on ingest's ClickHouse account.
 */
export function encryptionFromConfig(cfg: DeepReadonly<EncryptionSection>, ch: ClickHouse, wrapper?: KeyWrapper): IngestEncryptionDeps | undefined {
  if (!cfg.enabled) return undefined;
  const w = wrapper ?? localWrapper(cfg);
  return {
    store: createSubjectKeyStore({ ch, wrapper: w, cacheTtlMs: cfg.key_cache_ttl_ms, cacheMaxEntries: cfg.key_cache_max_entries }),
    fields: [...cfg.fields],
    subjectField: cfg.subject_field,
  };
}

function localWrapper(cfg: DeepReadonly<EncryptionSection>): KeyWrapper {
  const keys = loadMasterKeys({
    master_key_file: cfg.master_key_file,
    master_key: resolveSecret(cfg.master_key, undefined, 'encryption.master_key'),
    previous_master_key_files: cfg.previous_master_key_files,
  });
  if (!keys)
    throw new AuditstreamError(
      'ENCRYPTION_KEY_MISSING',
      'encryption.enabled is true but no master key is set: set encryption.master_key_file (or encryption.master_key), or encryption.enabled=false',
      { field: 'encryption.master_key_file' },
    );
  return createLocalKeyWrapper({ keys });
}
