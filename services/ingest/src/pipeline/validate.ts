import { AuditstreamError } from '@auditstream/core';
import type { AuditEvent } from '@auditstream/schemas';

/**
 * The contract's validator (validateAuditEvent from @auditstream/schemas, the function the SDK
 * runs too; unit tests pass fakes): it throws an
 * AuditstreamError naming the field at fault, or returns normally. Time rules (how far
 * occurred_at may be from "now") are judged against `receivedAtMs`, the Kafka message
 * timestamp, never the wall clock: a redelivered message gets the same verdict.
 */
export type EventValidator = (event: AuditEvent, receivedAtMs: number) => void;

export type ValidateResult = { ok: true } | { ok: false; reason: string };

const VALID: ValidateResult = Object.freeze({ ok: true });

/** Runs the validator; the reason names the field and rule, never the value. */
export function validateEvent(validator: EventValidator, event: AuditEvent, receivedAtMs: number): ValidateResult {
  try {
    validator(event, receivedAtMs);
    return VALID;
  } catch (err) {
    if (err instanceof AuditstreamError) return { ok: false, reason: `${err.code}${err.field ? ` (${err.field})` : ''}: ${err.message}` };
    return { ok: false, reason: 'event failed validation' };
  }
}
