import { AuditstreamError, isRetriable } from '@auditstream/core';
import type { AuditEvent } from '@auditstream/schemas';
import type { ErrorClass } from '../types.js';

/** The part of @auditstream/codec's AuditCodec ingest uses. */
export interface EventDecoder {
  /** Single-object, or Confluent ids already seen; throws CODEC_SCHEMA_NOT_LOADED otherwise. */
  decodeSync(bytes: Uint8Array): AuditEvent;
  /** Fetches an unseen Confluent schema id from the registry first. */
  decode(bytes: Uint8Array): Promise<AuditEvent>;
}

/**
 * What a decode failure means for the message:
 * - dead: the bytes will never decode (not Avro, unknown writer schema, corrupt body) → DLQ;
 * - retry: the failure is outside the message (registry unreachable) → retry, never DLQ;
 * - fatal: configuration is wrong (registry credentials) → stop the service.
 */
export type DecodeFailure = { action: 'dead'; errorClass: ErrorClass; reason: string } | { action: 'retry' | 'fatal'; error: unknown };

const UNKNOWN_SCHEMA_CODES = new Set(['CODEC_UNKNOWN_SCHEMA_ID', 'CODEC_UNKNOWN_FINGERPRINT', 'CODEC_UNKNOWN_SCHEMA', 'CODEC_INCOMPATIBLE_SCHEMA']);
const FATAL_CODES = new Set(['CODEC_REGISTRY_UNAUTHORIZED']);

export function classifyDecodeError(err: unknown): DecodeFailure {
  const code = err instanceof AuditstreamError ? err.code : undefined;
  if (code && FATAL_CODES.has(code)) return { action: 'fatal', error: err };
  if (isRetriable(err) || code === 'CODEC_REGISTRY_UNREACHABLE') return { action: 'retry', error: err };
  // Codec messages name framing facts (marker bytes, lengths, schema ids), never field values.
  const reason = err instanceof AuditstreamError ? `${err.code}: ${err.message}` : 'payload could not be decoded';
  if (code && (UNKNOWN_SCHEMA_CODES.has(code) || /UNKNOWN_(SCHEMA|FINGERPRINT)/.test(code))) return { action: 'dead', errorClass: 'unknown_schema', reason };
  return { action: 'dead', errorClass: 'not_avro', reason };
}

export type DecodeResult = { ok: true; event: AuditEvent } | { ok: false; failure: DecodeFailure };

/** Decodes synchronously when it can (the hot path); `needsAsync` tells the caller to await decodeAsync. */
export function decodeFast(decoder: EventDecoder, bytes: Buffer): DecodeResult | { ok: false; needsAsync: true } {
  try {
    return { ok: true, event: decoder.decodeSync(bytes) };
  } catch (err) {
    if (err instanceof AuditstreamError && err.code === 'CODEC_SCHEMA_NOT_LOADED') return { ok: false, needsAsync: true };
    return { ok: false, failure: classifyDecodeError(err) };
  }
}

export async function decodeAsync(decoder: EventDecoder, bytes: Buffer): Promise<DecodeResult> {
  try {
    return { ok: true, event: await decoder.decode(bytes) };
  } catch (err) {
    return { ok: false, failure: classifyDecodeError(err) };
  }
}
