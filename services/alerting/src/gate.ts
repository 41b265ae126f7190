import { ingestSection } from '@auditstream/config';
import { isAuditstreamError } from '@auditstream/core';
import { validateAuditEvent } from '@auditstream/schemas';
import type { AlertEvent } from './event.js';

/**
 * The gate in front of the rules: alerting evaluates only what ingest would store. Ingest
 * dead-letters a record that is empty, larger than ingest.max_message_bytes, does not decode
 * (the codec's guard: not Avro, truncated, trailing bytes, unknown writer schema) or breaks the
 * contract (validateAuditEvent, judged against the Kafka timestamp); so does this gate, with
 * the same functions, and counts what it discards by a bounded reason (ingest's error classes).
 */
export type DiscardReason = 'not_avro' | 'unknown_schema' | 'invalid' | 'oversize';

/** `event`: set for `invalid` (it decoded): loss detection counts it as delivered (ingest dead-letters it, it is in the DLQ). */
export type Admission = { ok: true; event: AlertEvent } | { ok: false; reason: DiscardReason; event?: AlertEvent };

export interface EventGateOptions {
  /** Decodes one record (main.ts: @auditstream/codec, the decoder ingest uses). */
  decode: (value: Buffer) => AlertEvent | Promise<AlertEvent>;
  /** ingest.max_message_bytes; default its default. */
  maxMessageBytes?: number | undefined;
}

const DEFAULT_MAX_MESSAGE_BYTES = ingestSection.parse({}).max_message_bytes;

export function createEventGate(opts: EventGateOptions): (value: Buffer | null, timestampMs: number) => Promise<Admission> {
  const max = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  return async (value, timestampMs) => {
    if (!value || value.length === 0) return { ok: false, reason: 'not_avro' };
    if (value.length > max) return { ok: false, reason: 'oversize' };
    let event: AlertEvent;
    try {
      event = await opts.decode(value);
    } catch (err) {
      // Same split as ingest's dead letters: an unknown writer schema, or bytes that are not (whole) Avro.
      const code = isAuditstreamError(err) ? err.code : '';
      return { ok: false, reason: /UNKNOWN_(SCHEMA|FINGERPRINT)|INCOMPATIBLE_SCHEMA/.test(code) ? 'unknown_schema' : 'not_avro' };
    }
    try {
      validateAuditEvent(event as never, timestampMs);
    } catch {
      return { ok: false, reason: 'invalid', event };
    }
    return { ok: true, event };
  };
}
