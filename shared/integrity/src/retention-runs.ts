import type { KeyObject } from 'node:crypto';
import type { ClickHouse } from '@auditstream/clickhouse';
import { microsToIso } from '@auditstream/schemas';
import type { RetentionRun } from './retention-evidence.js';
import { countEventsBefore, loadRetentionRecords } from './store.js';
import { verifyEvent } from './verify-event.js';

export interface RetentionRunCheck {
  /** Runs whose records hold up: what `verify` may explain a whole missing chain, or a truncated chain's oldest entries, with. */
  trusted: RetentionRun[];
  /** Records that do not, and why (for the report's notes). */
  rejected: { event_id: string; reason: string }[];
}

/**
 * The retention runs verify believes. A record is an audit event anyone who can publish could
 * imitate, and a row anyone who can write to ClickHouse could insert, so each must:
 * - be one row at its place (copies that disagree on the hash or the claim are not believed);
 * - be stored intact under a signed checkpoint (verifyEvent's chain walk: it only reads);
 * - claim a cut-off no later than its own time;
 * - agree with the store: no kept event occurred and was received before the cut-off (a claim
 *   of a later cut-off than the run had is contradicted by every row it did not remove).
 */
export async function checkRetentionRuns(o: { ch: ClickHouse; publicKeys: ReadonlyMap<string, KeyObject>; signal?: AbortSignal }): Promise<RetentionRunCheck> {
  const out: RetentionRunCheck = { trusted: [], rejected: [] };
  for (const r of await loadRetentionRecords(o.ch)) {
    const reject = (reason: string) => out.rejected.push({ event_id: r.event_id, reason });
    const cutoffMs = Date.parse(r.cutoff);
    if (r.variants !== 1) {
      reject(`${r.variants} different rows are stored at its place (${r.topic}/${r.partition}@${r.offset})`);
      continue;
    }
    if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(r.cutoff) || Number.isNaN(cutoffMs)) {
      reject('its events cut-off is not a UTC time as toISOString writes it');
      continue;
    }
    const cutoffUs = BigInt(cutoffMs) * 1000n;
    if (cutoffUs > r.occurred_at_us) {
      reject(`its cut-off ${r.cutoff} is after the run itself (${microsToIso(r.occurred_at_us)})`);
      continue;
    }
    const v = await verifyEvent({
      ch: o.ch,
      publicKeys: o.publicKeys,
      topic: r.topic,
      partition: r.partition,
      offset: r.offset,
      event_id: r.event_id,
      proof: false,
      ...(o.signal ? { signal: o.signal } : {}),
    });
    if (v.status !== 'verified' || v.chain.hash !== r.hash) {
      reject(`its record is not proven by a signed checkpoint (${v.status}${v.reason ? `: ${v.reason}` : ''})`);
      continue;
    }
    const kept = await countEventsBefore(o.ch, new Date(cutoffMs));
    if (kept > 0) {
      reject(`${kept} stored event${kept === 1 ? '' : 's'} occurred and arrived before its cut-off ${r.cutoff}: the store contradicts it`);
      continue;
    }
    out.trusted.push({
      event_id: r.event_id,
      topic: r.topic,
      partition: r.partition,
      offset: r.offset.toString(),
      run_at_us: r.occurred_at_us,
      cutoff_us: cutoffUs,
    });
  }
  return out;
}
