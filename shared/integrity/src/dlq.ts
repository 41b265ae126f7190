import { createHash } from 'node:crypto';
import type { ClickHouse, RequestOptions } from '@auditstream/clickhouse';
import { AuditstreamError } from '@auditstream/core';

/** One dead-lettered message: where it was in Kafka, why it was refused, and its bytes (hashed, never stored). */
export interface DlqDecision {
  topic: string;
  partition: number;
  offset: string | number | bigint;
  /**
   * Machine-friendly reason code, e.g. ingest's error class (`not_avro`, `unknown_schema`,
   * `invalid`, `oversize`, `rejected`), optionally `:<field>`. Never a payload value.
   */
  reason: string;
  /** The Kafka message value as consumed (null for a tombstone). Hashed with SHA-256; not stored. */
  value?: Buffer | null;
  /** Hex SHA-256 of the value, when the caller already has it (then `value` is not needed). */
  raw_sha256?: string;
  /** When the decision was taken; defaults to now. */
  decided_at?: Date;
}

const COLUMNS = ['topic', 'partition', 'offset', 'reason', 'raw_sha256', 'decided_at'];

/** Hex SHA-256 of a message value as recorded in dlq_decisions.raw_sha256 (a null value hashes as empty). */
export function rawSha256(value: Buffer | null | undefined): string {
  return createHash('sha256')
    .update(value ?? Buffer.alloc(0))
    .digest('hex');
}

/**
 * Records why messages got no chain entry, in `<db>.dlq_decisions` (one INSERT). With these,
 * `auditstream verify` tells an offset ingest refused (recorded here) from a row that was stored
 * and then deleted (the chain breaks, or the offset is neither stored nor recorded).
 *
 * Ingest calls it for every dead letter — before the chain for the decoded, validation and
 * row-mapping rejects, after the insert for rows ClickHouse refused — once the dead letters are
 * on the DLQ topic, and always BEFORE it commits the offsets (a crash in between re-delivers the
 * messages and records the decisions again; the table collapses the copies). Throws the storage
 * module's classified errors (retriable ones are worth retrying like an INSERT).
 */
export async function recordDlqDecisions(ch: ClickHouse, decisions: readonly DlqDecision[], options: RequestOptions = {}): Promise<void> {
  if (decisions.length === 0) return;
  const now = Math.floor(Date.now() / 1000);
  const rows = decisions.map((d, i) => {
    const offset = typeof d.offset === 'bigint' ? d.offset : BigInt(d.offset);
    if (offset < 0n) throw new AuditstreamError('INTEGRITY_DLQ_INVALID', `dlq decision ${i}: offset must not be negative`, { field: 'offset' });
    if (!Number.isInteger(d.partition) || d.partition < 0)
      throw new AuditstreamError('INTEGRITY_DLQ_INVALID', `dlq decision ${i}: partition must be a non-negative integer`, { field: 'partition' });
    if (typeof d.reason !== 'string' || d.reason.length === 0)
      throw new AuditstreamError('INTEGRITY_DLQ_INVALID', `dlq decision ${i}: reason is required`, { field: 'reason' });
    const sha = d.raw_sha256 ?? rawSha256(d.value);
    if (!/^[0-9a-f]{64}$/.test(sha))
      throw new AuditstreamError('INTEGRITY_DLQ_INVALID', `dlq decision ${i}: raw_sha256 must be 64 hex characters`, { field: 'raw_sha256' });
    return {
      topic: d.topic,
      partition: d.partition,
      offset: offset.toString(),
      reason: d.reason.slice(0, 200),
      raw_sha256: sha,
      decided_at: d.decided_at ? Math.floor(d.decided_at.getTime() / 1000) : now,
    };
  });
  await ch.insertJson('dlq_decisions', rows, { operation: 'integrity_dlq_decisions', ...options, columns: COLUMNS });
}
