/** A per-key list of timestamped entries kept sorted by event time, for the window rules. */
export interface Entry {
  t: number;
  id: string;
  /** distinct: the counted value. */
  v?: string;
  /** sequence: bit i set when the event matches step i. */
  m?: number;
  /** `min_sources`: the event's source value (e.g. actor.ip). */
  s?: string;
}

/** `min_sources` of a rule: its qualifying events must come from at least `count` distinct values of `field`. */
export interface MinSources {
  field: string;
  count: number;
}

/** Whether the entries hold at least `need` distinct source values (entries without one do not count). */
export function hasSources(entries: Iterable<Entry>, need: number): boolean {
  const seen = new Set<string>();
  for (const e of entries) {
    if (e.s === undefined) continue;
    seen.add(e.s);
    if (seen.size >= need) return true;
  }
  return false;
}

export class TimeList {
  items: Entry[] = [];

  get length(): number {
    return this.items.length;
  }

  /** First index whose time is >= t. */
  lowerBound(t: number): number {
    let lo = 0;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.items[mid] as Entry).t < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** First index whose time is > t. */
  upperBound(t: number): number {
    let lo = 0;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.items[mid] as Entry).t <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Inserts after entries of equal time (arrival order breaks ties); returns the index. */
  insert(e: Entry): number {
    const n = this.items.length;
    if (n === 0 || (this.items[n - 1] as Entry).t <= e.t) {
      this.items.push(e);
      return n;
    }
    const i = this.upperBound(e.t);
    this.items.splice(i, 0, e);
    return i;
  }

  evictBefore(t: number): void {
    const n = this.lowerBound(t);
    if (n > 0) this.items.splice(0, n);
  }

  /** Drops the oldest entries beyond `max`. */
  cap(max: number): void {
    if (this.items.length > max) this.items.splice(0, this.items.length - max);
  }
}

/** Keyed TimeLists with eviction by watermark and a bound on keys (least recently touched go first). */
export class KeyedLists {
  private readonly lists = new Map<string, TimeList>();
  private entries = 0;

  constructor(
    private readonly windowMs: number,
    private readonly limits: { maxEventsPerKey: number; maxKeys: number },
  ) {}

  /** Inserts and returns the list and index; the caller searches, then calls `settle`. */
  add(key: string, e: Entry): { list: TimeList; idx: number } {
    let list = this.lists.get(key);
    if (list) {
      this.lists.delete(key); // re-insert: Map order is least recently touched first
    } else {
      list = new TimeList();
      if (this.lists.size >= this.limits.maxKeys) {
        const oldest = this.lists.keys().next().value as string;
        this.entries -= (this.lists.get(oldest) as TimeList).length;
        this.lists.delete(oldest);
      }
    }
    this.lists.set(key, list);
    const idx = list.insert(e);
    this.entries++;
    return { list, idx };
  }

  settle(list: TimeList): void {
    const before = list.length;
    list.cap(this.limits.maxEventsPerKey);
    this.entries -= before - list.length;
  }

  evict(watermark: number): void {
    const horizon = watermark - this.windowMs;
    for (const [key, list] of this.lists) {
      const before = list.length;
      list.evictBefore(horizon);
      this.entries -= before - list.length;
      if (list.length === 0) this.lists.delete(key);
    }
  }

  size(): number {
    return this.entries;
  }
}
