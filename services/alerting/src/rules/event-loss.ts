import { encodeGroupKey } from '../alert.js';
import type { BuildContext, RuleTypeParts } from './build.js';
import { LossTracker, type SkipReason } from './loss-tracker.js';
import { expectMap, onlyKeys, posNumber, reqStr, SpecError } from './spec-error.js';
import type { RuleState, StateLimits, TickContext, Trigger } from './types.js';

/**
 * `event_loss`: an event a producer numbered never reached the events topic (docs/alerting.md#event_loss).
 *
 *   event_loss:
 *     grace_s: 60                # how long a gap may stay open (in-flight on another partition) before it is a loss
 *     tenant: auditstream        # the operator tenant the alerts belong to (a producer writes for many tenants)
 *     forget_after_s: 86400      # a producer silent this long is forgotten
 *     behind_grace_s: 3600       # while alerting lags, how long the lowest gap may stay open (wall clock)
 *
 * A stream rule: the engine hands it every decodable record of the topic (before lateness and
 * duplicate filtering, and records ingest dead-letters as invalid: they are in the DLQ, not lost).
 * Each missing range is its own alert (group producer_id, details missing_from/missing_to), so a
 * replay after a restart re-finds the same alert id and delivers it once. Gaps are judged on a
 * complete clock only (the engine's tick says whether every partition is read to its end):
 * loss-tracker.ts says why and what happens meanwhile.
 */
export function buildEventLoss(raw: unknown, path: string, ctx: BuildContext): RuleTypeParts {
  const spec = raw === undefined ? {} : expectMap(raw, path);
  onlyKeys(spec, ['grace_s', 'tenant', 'forget_after_s', 'behind_grace_s'], path);
  if (ctx.group_by.length > 0) throw new SpecError('group_by', 'must be empty for event_loss (it always groups by producer_id)');
  const graceMs = posNumber(spec.grace_s, `${path}.grace_s`, 60) * 1000;
  const forgetMs = posNumber(spec.forget_after_s, `${path}.forget_after_s`, 86400) * 1000;
  const behindGraceMs = posNumber(spec.behind_grace_s, `${path}.behind_grace_s`, 3600) * 1000;
  if (behindGraceMs < graceMs) throw new SpecError(`${path}.behind_grace_s`, 'must be at least grace_s');
  const tenant = spec.tenant === undefined ? 'auditstream' : (reqStr(spec.tenant, `${path}.tenant`) as string);
  return {
    // Replayed after a restart: numbers seen within the grace rebuild the open gaps.
    lookback_ms: graceMs,
    cooldown_ms: 0,
    stream: true,
    streamKey: (event) => (typeof event.producer_id === 'string' && event.producer_id !== '' ? lossKey(tenant, event.producer_id) : undefined),
    default_summary: '{missing_count} event(s) of producer {group.producer_id} never arrived: numbers {missing_from} to {missing_to}',
    createState: (limits) => new EventLossState({ graceMs, forgetMs, behindGraceMs }, tenant, limits),
  };
}

export class EventLossState implements RuleState {
  private readonly tracker: LossTracker;

  constructor(
    times: { graceMs: number; forgetMs: number; behindGraceMs: number },
    private readonly tenant: string,
    limits: StateLimits,
  ) {
    this.tracker = new LossTracker({ ...times, maxProducers: limits.maxKeys, maxAhead: Math.max(limits.maxEventsPerKey, 1000) });
  }

  onEvent(_key: string, t: number, eventId: string, event: Readonly<Record<string, unknown>>): Trigger | undefined {
    const id = event.producer_id;
    const seq = event.producer_seq;
    if (typeof id === 'string' && id !== '' && typeof seq === 'number') this.tracker.observe(id, seq, t, eventId);
    return undefined;
  }

  tick(clock: number, at: TickContext): Array<{ key: string; trigger: Trigger }> {
    return this.tracker.due(clock, { caughtUp: at.caughtUp, wallMs: at.wallMs }).map((r) => ({
      key: lossKey(this.tenant, r.producer_id),
      trigger: {
        window_start: r.after_at,
        last_at: r.after_at,
        count: r.to - r.from + 1,
        event_ids: [r.after_event_id],
        key_suffix: ['missing', `${r.from}-${r.to}`],
        details: { missing_from: String(r.from), missing_to: String(r.to), missing_count: String(r.to - r.from + 1), next_event_id: r.after_event_id },
      },
    }));
  }

  takeSkips(): Array<{ reason: SkipReason; count: number }> {
    return this.tracker.takeSkips();
  }

  evict(): void {}

  size(): number {
    return this.tracker.size();
  }
}

/** The group key of a producer's loss alerts (the operator tenant, the producer). */
function lossKey(tenant: string, producerId: string): string {
  return encodeGroupKey([
    ['tenant_id', tenant],
    ['producer_id', producerId],
  ]);
}
