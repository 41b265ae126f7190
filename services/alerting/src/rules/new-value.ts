import type { Alert } from '../alert.js';
import { fieldString } from '../event.js';
import type { RuleTypeParts } from './build.js';
import { bool, expectMap, fieldPath, onlyKeys, posInt, posNumber } from './spec-error.js';
import type { RuleState, StateLimits, Trigger } from './types.js';

/**
 * `new_value`: the first time a group key is seen with a value of `field` (a new IP or
 * user agent for an actor, a new country for a tenant's admin).
 *
 *   new_value: { field: actor.ip, ttl_s: 2592000, max_entries: 100000, alert_on_first: false }
 *
 * State is bounded: at most `max_entries` (key, value) pairs, least recently seen dropped
 * first, and a pair not seen for `ttl_s` of event time is forgotten (seen again, it is new).
 * With `alert_on_first: false` (the default) the first value a key ever shows is learnt
 * silently: only a key that already has known values alerts on a new one.
 */
export function buildNewValue(raw: unknown, path: string, limits: { defaultMaxEntries: number }): RuleTypeParts {
  const spec = expectMap(raw, path);
  onlyKeys(spec, ['field', 'ttl_s', 'max_entries', 'alert_on_first'], path);
  const field = fieldPath(spec.field, `${path}.field`);
  const ttlMs = posNumber(spec.ttl_s, `${path}.ttl_s`, 30 * 86400) * 1000;
  const maxEntries = posInt(spec.max_entries, `${path}.max_entries`, limits.defaultMaxEntries);
  const alertOnFirst = bool(spec.alert_on_first, `${path}.alert_on_first`, false);
  return {
    lookback_ms: 0,
    cooldown_ms: 0,
    default_summary: `new ${field} "{value}" for {group}`,
    createState: (l) => new NewValueState(field, ttlMs, maxEntries, alertOnFirst, l),
  };
}

export class NewValueState implements RuleState {
  /** `key \0 value` → last seen (event time); Map order = least recently seen first. */
  private readonly seen = new Map<string, number>();
  /** Known values per key, to tell a key's first value from a new one. */
  private readonly perKey = new Map<string, number>();

  constructor(
    private readonly field: string,
    private readonly ttlMs: number,
    private readonly maxEntries: number,
    private readonly alertOnFirst: boolean,
    private readonly limits: StateLimits,
  ) {}

  onEvent(key: string, t: number, eventId: string, event: Readonly<Record<string, unknown>>): Trigger | undefined {
    const value = fieldString(event, this.field);
    if (value === undefined) return undefined;
    const pair = `${key}\u0000${value}`;
    const last = this.seen.get(pair);
    if (last !== undefined && t - last <= this.ttlMs) {
      this.touch(pair, Math.max(last, t));
      return undefined;
    }
    if (last !== undefined) this.forget(pair);
    const hadValues = (this.perKey.get(key) ?? 0) > 0;
    this.learn(key, pair, t);
    if (!hadValues && !this.alertOnFirst) return undefined;
    return {
      window_start: t,
      last_at: t,
      count: 1,
      event_ids: this.limits.sampleSize > 0 ? [eventId] : [],
      details: { field: this.field, value },
      key_suffix: [this.field, value],
    };
  }

  seed(alert: Alert): void {
    const value = alert.details.value;
    if (value === undefined) return;
    const pair = `${alert.group_key}\u0000${value}`;
    if (!this.seen.has(pair)) this.learn(alert.group_key, pair, alert.last_event_at);
  }

  private touch(pair: string, t: number): void {
    this.seen.delete(pair);
    this.seen.set(pair, t);
  }

  private learn(key: string, pair: string, t: number): void {
    while (this.seen.size >= this.maxEntries) {
      const oldest = this.seen.keys().next().value as string;
      this.forget(oldest);
    }
    this.seen.set(pair, t);
    this.perKey.set(key, (this.perKey.get(key) ?? 0) + 1);
  }

  private forget(pair: string): void {
    if (!this.seen.delete(pair)) return;
    const key = pair.slice(0, pair.indexOf('\u0000'));
    const n = (this.perKey.get(key) ?? 1) - 1;
    if (n <= 0) this.perKey.delete(key);
    else this.perKey.set(key, n);
  }

  evict(watermark: number): void {
    for (const [pair, last] of this.seen) {
      if (watermark - last <= this.ttlMs) break; // least recently seen first: the rest are younger
      this.forget(pair);
    }
  }

  size(): number {
    return this.seen.size;
  }
}
