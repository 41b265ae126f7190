import { AuditstreamError, retry } from '@auditstream/core';
import type { AuditEvent } from '@auditstream/schemas';
import type { IngestMetrics } from '../metrics.js';
import type { ErrorClass, Outcome, SourceMessage } from '../types.js';
import { type DecodeResult, decodeAsync, decodeFast, type EventDecoder } from './decode.js';
import type { Enricher } from './enrich/index.js';
import { type EventValidator, validateEvent } from './validate.js';

export interface ProcessDeps {
  decoder: EventDecoder;
  validate: EventValidator;
  enrich: Enricher;
  maxMessageBytes: number;
  metrics: Pick<IngestMetrics, 'errors'>;
  retry: { initial_delay_ms: number; max_delay_ms: number };
  /** Aborted when the service stops: transient decode retries give up then. */
  signal: AbortSignal;
}

/** Thrown when processing cannot go on (bad registry credentials): the service stops. */
export class FatalIngestError extends AuditstreamError {}

/**
 * One consumed message → a record to store, or a dead letter. Synchronous on the hot
 * path; returns a promise only when the codec must reach the schema registry.
 */
export function processMessage(deps: ProcessDeps, source: SourceMessage): Outcome | Promise<Outcome> {
  const value = source.value;
  if (!value || value.length === 0) return dead(deps, source, 'not_avro', 'message has no value');
  if (value.length > deps.maxMessageBytes)
    return dead(deps, source, 'oversize', `message value is ${value.length} bytes, more than ingest.max_message_bytes (${deps.maxMessageBytes})`);
  const fast = decodeFast(deps.decoder, value);
  if ('needsAsync' in fast) return decodeWithRetry(deps, value).then((r) => afterDecode(deps, source, r));
  if (!fast.ok && fast.failure.action === 'retry') return decodeWithRetry(deps, value).then((r) => afterDecode(deps, source, r));
  return afterDecode(deps, source, fast);
}

async function decodeWithRetry(deps: ProcessDeps, value: Buffer): Promise<DecodeResult> {
  return retry(
    async () => {
      const r = await decodeAsync(deps.decoder, value);
      if (!r.ok && r.failure.action === 'retry') throw r.failure.error;
      return r;
    },
    {
      ...deps.retry,
      max_attempts: Number.POSITIVE_INFINITY,
      shouldRetry: () => !deps.signal.aborted,
      onRetry: (err) => deps.metrics.errors.inc({ stage: 'decode', error_type: err instanceof AuditstreamError ? err.code : 'other' }),
      signal: deps.signal,
    },
  );
}

function afterDecode(deps: ProcessDeps, source: SourceMessage, r: DecodeResult): Outcome {
  if (!r.ok) {
    const f = r.failure;
    if (f.action === 'dead') return dead(deps, source, f.errorClass, f.reason);
    const err = f.error;
    const code = err instanceof AuditstreamError ? err.code : 'CODEC_ERROR';
    deps.metrics.errors.inc({ stage: 'decode', error_type: code });
    throw new FatalIngestError(code, `decoding failed and cannot be retried: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const event: AuditEvent = r.event;
  const receivedAtMs = Number(source.timestamp);
  const v = validateEvent(deps.validate, event, receivedAtMs);
  if (!v.ok) return dead(deps, source, 'invalid', v.reason);
  const enrichment = deps.enrich(event);
  return { kind: 'record', record: { event, enrichment, source, receivedAtMs } };
}

function dead(deps: ProcessDeps, source: SourceMessage, errorClass: ErrorClass, reason: string): Outcome {
  deps.metrics.errors.inc({
    stage: errorClass === 'oversize' || errorClass === 'not_avro' || errorClass === 'unknown_schema' ? 'decode' : 'validate',
    error_type: errorClass,
  });
  return { kind: 'dead', dead: { source, errorClass, reason } };
}
