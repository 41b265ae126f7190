import { fieldString } from '../event.js';
import type { BuildContext, RuleTypeParts } from './build.js';
import { compileFilter, type Filter } from './filters.js';
import { bool, expectMap, join, list, onlyKeys, posInt, posNumber, reqStr, SpecError } from './spec-error.js';
import type { RuleState, StateLimits, Trigger } from './types.js';
import { type Entry, hasSources, KeyedLists, type MinSources } from './window.js';

/**
 * `sequence`: for one group key, `count` events of step 1, then `count` of step 2, ... in
 * event-time order, the whole sequence within `window_s` (brute-force success: >= 5 failed
 * logins, then a successful one). Events of later steps must come after the earlier steps
 * are complete; unrelated events in between do not break the sequence.
 *
 *   sequence:
 *     window_s: 300
 *     reset: true          # default
 *     steps:
 *       - { name: failures, count: 5, filter: { field: outcome, eq: failure } }
 *       - { name: success, filter: { field: outcome, eq: success } }
 *
 * `reset: true` (the default): an event of the last step ends every sequence in progress, so
 * the rule reads "5 failures with no success in between, then a success", and each success
 * completes at most one sequence. The first step then takes every event of it since the
 * previous completion (within the window): the alert counts the whole run of failures.
 * `reset: false`: last-step events in between do not break a sequence (any 5 failures in the
 * window before a success).
 *
 * Detection works back from each event of the last step (greedy, latest possible start),
 * so an event arriving late (within the allowed lateness) is placed where it belongs.
 */
export function buildSequence(raw: unknown, path: string, ctx: BuildContext): RuleTypeParts {
  const spec = expectMap(raw, path);
  onlyKeys(spec, ['window_s', 'reset', 'steps'], path);
  const windowMs = posNumber(spec.window_s, `${path}.window_s`) * 1000;
  const reset = bool(spec.reset, `${path}.reset`, true);
  const stepsPath = `${path}.steps`;
  const rawSteps = list(spec.steps, stepsPath, { min: 2 });
  if (rawSteps.length > 16) throw new SpecError(stepsPath, 'must have at most 16 steps');
  const steps = rawSteps.map((s, i) => {
    const p = join(stepsPath, i);
    const step = expectMap(s, p);
    onlyKeys(step, ['name', 'count', 'filter'], p);
    if (step.filter === undefined) throw new SpecError(join(p, 'filter'), 'is required');
    return {
      name: step.name === undefined ? `step${i + 1}` : reqStr(step.name, join(p, 'name')),
      count: posInt(step.count, join(p, 'count'), 1),
      filter: compileFilter(step.filter, join(p, 'filter'), ctx),
    };
  });
  const names = steps.map((s) => (s.count > 1 ? `${s.count}× ${s.name}` : s.name)).join(' → ');
  return {
    lookback_ms: windowMs,
    cooldown_ms: windowMs,
    default_summary: `sequence ${names} for {group} within {window}`,
    createState: (limits) => new SequenceState(steps, windowMs, limits, { reset, min_sources: ctx.min_sources }),
  };
}

export interface Step {
  name: string;
  count: number;
  filter: Filter;
}

export class SequenceState implements RuleState {
  private readonly lists: KeyedLists;
  private readonly last: number;

  constructor(
    private readonly steps: Step[],
    private readonly windowMs: number,
    private readonly limits: StateLimits,
    private readonly options: { reset?: boolean; min_sources?: MinSources | undefined } = { reset: true },
  ) {
    const need = steps.reduce((a, s) => a + s.count, 0);
    this.lists = new KeyedLists(windowMs, { maxEventsPerKey: Math.max(limits.maxEventsPerKey, need), maxKeys: limits.maxKeys });
    this.last = steps.length - 1;
  }

  onEvent(key: string, t: number, eventId: string, event: Readonly<Record<string, unknown>>): Trigger | undefined {
    let m = 0;
    for (let i = 0; i < this.steps.length; i++) if ((this.steps[i] as Step).filter(event)) m |= 1 << i;
    if (m === 0) return undefined;
    const src = this.options.min_sources ? fieldString(event, this.options.min_sources.field) : undefined;
    const { list, idx } = this.lists.add(key, src === undefined ? { t, id: eventId, m } : { t, id: eventId, m, s: src });
    const items = list.items;
    const lastBit = 1 << this.last;
    let out: Trigger | undefined;
    // A sequence the new event takes part in ends at an event of the last step at or after t
    // (and within one window of it). In order, that is only the new event itself.
    const end = list.upperBound(t + this.windowMs);
    for (let f = idx; f < end && !out; f++) {
      if (((items[f] as Entry).m as number) & lastBit) out = this.backward(items, f, t);
    }
    this.lists.settle(list);
    return out;
  }

  /** Greedy backwards from the final event at index f: the latest start of a full sequence. */
  private backward(items: Entry[], f: number, t: number): Trigger | undefined {
    const endT = (items[f] as Entry).t;
    const floor = endT - this.windowMs;
    const lastBit = 1 << this.last;
    const reset = this.options.reset !== false;
    let step = this.last;
    let need = (this.steps[step] as Step).count;
    const used: Entry[] = [];
    let k = f;
    for (; k >= 0; k--) {
      const e = items[k] as Entry;
      if (e.t < floor) return undefined;
      const m = e.m as number;
      if ((m & (1 << step)) === 0) {
        if (reset && step < this.last && m & lastBit) return undefined; // an earlier completion ends the run
        continue;
      }
      used.push(e);
      if (--need > 0) continue;
      if (step === 0) break;
      step--;
      need = (this.steps[step] as Step).count;
    }
    if (k < 0) return undefined;
    if (reset) {
      // The whole run of first-step events back to the previous completion (or the window).
      for (let j = k - 1; j >= 0; j--) {
        const e = items[j] as Entry;
        if (e.t < floor) break;
        const m = e.m as number;
        if (m & 1) used.push(e);
        else if (m & lastBit) break;
      }
    }
    used.reverse();
    const start = (used[0] as Entry).t;
    if (start > t) return undefined; // the new event is not inside this sequence's span
    const min = this.options.min_sources;
    if (min && !hasSources(used, min.count)) return undefined;
    return {
      window_start: start,
      last_at: endT,
      count: used.length,
      event_ids: used.slice(0, this.limits.sampleSize).map((u) => u.id),
      details: { steps: this.steps.map((s) => s.name).join(',') },
      completion: true,
    };
  }

  evict(watermark: number): void {
    this.lists.evict(watermark);
  }

  size(): number {
    return this.lists.size();
  }
}
