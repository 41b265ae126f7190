import { encodeGroupKey } from '../alert.js';
import type { BuildContext, RuleTypeParts } from './build.js';
import { expectMap, isMap, join, list, onlyKeys, posNumber, SpecError, scalar } from './spec-error.js';
import type { RuleState, StateLimits, Trigger } from './types.js';

/**
 * `absence`: no matching event for a group key (a producing service) for `for_s`.
 *
 *   absence:
 *     for_s: 900
 *     expected:                     # optional: keys armed from start, before any event is seen
 *       - { tenant_id: acme, service: billing }
 *     forget_after_s: 604800        # a key silent this long after alerting is dropped
 *
 * A key is armed by its first event (or by `expected`); it fires once per silence, with the
 * last event time as the window start, and re-arms on its next event.
 *
 * The clock: absence is judged by the engine's timer clock, which is the event-time
 * watermark, pushed forward by the wall clock (minus the allowed lateness) only while the
 * consumer is caught up. Event time alone would never fire when the whole stream goes
 * quiet (exactly the case to catch); wall clock alone would fire falsely while a backlog
 * is being worked off or replayed. See docs/alerting.md.
 */
export function buildAbsence(raw: unknown, path: string, ctx: BuildContext): RuleTypeParts {
  const spec = expectMap(raw, path);
  onlyKeys(spec, ['for_s', 'expected', 'forget_after_s'], path);
  const forMs = posNumber(spec.for_s, `${path}.for_s`) * 1000;
  const forgetMs = posNumber(spec.forget_after_s, `${path}.forget_after_s`, 7 * 86400) * 1000;
  const fields = ['tenant_id', ...ctx.group_by];
  const expected: string[] = [];
  if (spec.expected !== undefined) {
    const p = `${path}.expected`;
    list(spec.expected, p, { min: 1 }).forEach((e, i) => {
      const ep = join(p, i);
      if (!isMap(e)) throw new SpecError(ep, `must be a mapping of ${fields.join(', ')}`);
      onlyKeys(e, fields, ep);
      expected.push(
        encodeGroupKey(
          fields.map((f) => {
            if (e[f] === undefined) throw new SpecError(join(ep, f), 'is required (every group_by field, and tenant_id)');
            return [f, scalar(e[f], join(ep, f))] as const;
          }),
        ),
      );
    });
  }
  return {
    lookback_ms: forMs,
    cooldown_ms: 0,
    default_summary: 'no events from {group} for {silent_for}',
    createState: (limits) => new AbsenceState(forMs, forgetMs, expected, limits),
  };
}

interface KeyState {
  last: number;
  alerted: boolean;
}

export class AbsenceState implements RuleState {
  private readonly keys = new Map<string, KeyState>();
  private armedAt: number | undefined;

  constructor(
    private readonly forMs: number,
    private readonly forgetMs: number,
    private readonly expected: string[],
    private readonly limits: StateLimits,
  ) {}

  onEvent(key: string, t: number): Trigger | undefined {
    const k = this.keys.get(key);
    if (k) {
      if (t > k.last) {
        k.last = t;
        k.alerted = false;
      }
    } else {
      if (this.keys.size >= this.limits.maxKeys) {
        const oldest = this.keys.keys().next().value as string;
        this.keys.delete(oldest);
      }
      this.keys.set(key, { last: t, alerted: false });
    }
    return undefined;
  }

  tick(clock: number): Array<{ key: string; trigger: Trigger }> {
    if (this.armedAt === undefined && Number.isFinite(clock)) {
      this.armedAt = clock;
      for (const key of this.expected) if (!this.keys.has(key)) this.keys.set(key, { last: clock, alerted: false });
    }
    const out: Array<{ key: string; trigger: Trigger }> = [];
    for (const [key, k] of this.keys) {
      if (k.alerted) {
        if (clock - k.last > this.forgetMs && !this.expected.includes(key)) this.keys.delete(key);
        continue;
      }
      if (clock - k.last >= this.forMs) {
        k.alerted = true;
        out.push({
          key,
          trigger: { window_start: k.last, last_at: k.last, count: 0, event_ids: [], details: { silent_for_s: String(Math.round((clock - k.last) / 1000)) } },
        });
      }
    }
    return out;
  }

  evict(): void {}

  size(): number {
    return this.keys.size;
  }
}
