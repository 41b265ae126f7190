import { fieldString } from '../event.js';
import type { RuleTypeParts } from './build.js';
import { expectMap, fieldPath, onlyKeys, posInt, posNumber } from './spec-error.js';
import type { RuleState, StateLimits, Trigger } from './types.js';
import { type Entry, KeyedLists } from './window.js';

/**
 * `distinct`: at least `count` distinct values of `field` for one group key within any
 * `window_s` span of event time (password spraying: one source IP, many actors).
 *
 *   distinct: { field: actor.id, count: 10, window_s: 600 }
 *
 * Events without the field are ignored by the rule.
 */
export function buildDistinct(raw: unknown, path: string): RuleTypeParts {
  const spec = expectMap(raw, path);
  onlyKeys(spec, ['field', 'count', 'window_s'], path);
  const field = fieldPath(spec.field, `${path}.field`);
  const count = posInt(spec.count, `${path}.count`);
  const windowMs = posNumber(spec.window_s, `${path}.window_s`) * 1000;
  return {
    lookback_ms: windowMs,
    cooldown_ms: windowMs,
    default_summary: `{distinct_count} distinct ${field} values for {group} within {window}`,
    createState: (limits) => new DistinctState(field, count, windowMs, limits),
  };
}

export class DistinctState implements RuleState {
  private readonly lists: KeyedLists;

  constructor(
    private readonly field: string,
    private readonly count: number,
    private readonly windowMs: number,
    private readonly limits: StateLimits,
  ) {
    this.lists = new KeyedLists(windowMs, { maxEventsPerKey: Math.max(limits.maxEventsPerKey, count), maxKeys: limits.maxKeys });
  }

  onEvent(key: string, t: number, eventId: string, event: Readonly<Record<string, unknown>>): Trigger | undefined {
    const v = fieldString(event, this.field);
    if (v === undefined) return undefined;
    const { list, idx } = this.lists.add(key, { t, id: eventId, v });
    const items = list.items;
    const W = this.windowMs;
    // Two pointers over the windows [t_j, t_j + W] containing t: O(entries in [t - W, t + W]).
    const seen = new Map<string, number>();
    const j0 = list.lowerBound(t - W);
    let r = j0;
    let out: Trigger | undefined;
    for (let j = j0; j <= idx; j++) {
      const start = (items[j] as Entry).t;
      while (r < items.length && (items[r] as Entry).t <= start + W) {
        const val = (items[r] as Entry).v as string;
        seen.set(val, (seen.get(val) ?? 0) + 1);
        r++;
      }
      if (seen.size >= this.count) {
        const ids: string[] = [];
        for (let k = j; k < r && ids.length < this.limits.sampleSize; k++) ids.push((items[k] as Entry).id);
        out = {
          window_start: start,
          last_at: (items[r - 1] as Entry).t,
          count: r - j,
          event_ids: ids,
          details: { distinct_count: String(seen.size), distinct_field: this.field },
        };
        break;
      }
      const first = (items[j] as Entry).v as string;
      const n = (seen.get(first) ?? 0) - 1;
      if (n <= 0) seen.delete(first);
      else seen.set(first, n);
    }
    this.lists.settle(list);
    return out;
  }

  evict(watermark: number): void {
    this.lists.evict(watermark);
  }

  size(): number {
    return this.lists.size();
  }
}
