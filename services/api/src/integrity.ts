import type { EventVerification } from '@auditstream/integrity';
import type { TenantScope } from './scope.js';

/**
 * Integrity verification (hash chains and signed checkpoints, docs/integrity.md) is provided by
 * a verifier injected into the API. This is its contract. When none is wired, POST
 * /v1/integrity/verify answers 501 "not configured" rather than pretending to verify.
 */
export interface IntegrityFailure {
  /** Machine-friendly kind: chain_break, hash_mismatch, missing_event, checkpoint_signature, … */
  kind: string;
  detail: string;
  topic?: string;
  partition?: number;
  offset?: string;
  event_id?: string;
}

export interface IntegrityReport {
  /** ok: everything verified; failed: at least one failure; incomplete: could not verify all of the range. */
  status: 'ok' | 'failed' | 'incomplete';
  /** When the verification ran (ISO 8601). */
  checked_at: string;
  /** The verified range (ISO 8601), null when the verifier chose it (latest run). */
  from: string | null;
  to: string | null;
  events_checked: number;
  checkpoints_checked: number;
  failures: IntegrityFailure[];
  /** What verified but deserves a look, same shape: e.g. event_id_conflict (messages reusing an event_id with other content; all stored). */
  warnings?: IntegrityFailure[];
}

export interface IntegrityVerifier {
  /** Verifies the events and checkpoints of [from, to) (µs since the epoch). */
  verifyRange(input: { from: bigint; to: bigint; scope: TenantScope; signal: AbortSignal }): Promise<IntegrityReport>;
  /** The most recent verification result, or undefined when none ran yet. */
  latest(input: { scope: TenantScope }): Promise<IntegrityReport | undefined>;
  /**
   * One stored row's proof (GET /v1/events/{id}/verify): its chain link and the covering signed
   * checkpoint, from @auditstream/integrity verifyEvent. Absent → that endpoint answers 501.
   */
  verifyEvent?(input: { topic: string; partition: number; offset: bigint; event_id: string; signal: AbortSignal }): Promise<EventVerification>;
}
