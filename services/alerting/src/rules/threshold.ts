import { fieldString } from '../event.js';
import type { RuleTypeParts } from './build.js';
import { expectMap, onlyKeys, posInt, posNumber } from './spec-error.js';
import type { RuleState, StateLimits, Trigger } from './types.js';
import { type Entry, hasSources, KeyedLists, type MinSources } from './window.js';

/**
 * `threshold`: at least `count` matching events for one group key within any `window_s`
 * span of event time (a sliding window, inclusive of both ends).
 *
 *   threshold: { count: 6, window_s: 60 }
 *
 * Events are kept sorted by event time, so an out-of-order event (within the allowed
 * lateness) is counted in every window it falls in.
 */
export function buildThreshold(raw: unknown, path: string, minSources?: MinSources): RuleTypeParts {
  const spec = expectMap(raw, path);
  onlyKeys(spec, ['count', 'window_s'], path);
  const count = posInt(spec.count, `${path}.count`);
  const windowMs = posNumber(spec.window_s, `${path}.window_s`) * 1000;
  return {
    lookback_ms: windowMs,
    cooldown_ms: windowMs,
    default_summary: '{count} matching events for {group} within {window}',
    createState: (limits) => new ThresholdState(count, windowMs, limits, minSources),
  };
}

export class ThresholdState implements RuleState {
  private readonly lists: KeyedLists;

  constructor(
    private readonly count: number,
    private readonly windowMs: number,
    private readonly limits: StateLimits,
    private readonly minSources?: MinSources,
  ) {
    this.lists = new KeyedLists(windowMs, { maxEventsPerKey: Math.max(limits.maxEventsPerKey, count), maxKeys: limits.maxKeys });
  }

  onEvent(key: string, t: number, eventId: string, event: Readonly<Record<string, unknown>>): Trigger | undefined {
    const src = this.minSources ? fieldString(event, this.minSources.field) : undefined;
    const { list, idx } = this.lists.add(key, src === undefined ? { t, id: eventId } : { t, id: eventId, s: src });
    const items = list.items;
    let out: Trigger | undefined;
    // Windows [t_j, t_j + W] that contain t: j from the first entry >= t - W up to the new one.
    for (let j = list.lowerBound(t - this.windowMs); j <= idx; j++) {
      const start = (items[j] as Entry).t;
      const end = list.upperBound(start + this.windowMs);
      if (end - j >= this.count && (!this.minSources || hasSources(items.slice(j, end), this.minSources.count))) {
        const ids: string[] = [];
        for (let k = j; k < end && ids.length < this.limits.sampleSize; k++) ids.push((items[k] as Entry).id);
        out = { window_start: start, last_at: (items[end - 1] as Entry).t, count: end - j, event_ids: ids };
        break;
      }
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
