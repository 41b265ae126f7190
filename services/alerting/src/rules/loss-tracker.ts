/**
 * Per-producer sequence tracking for loss detection (the `event_loss` rule type, docs/alerting.md).
 * Every producer numbers its events 0, 1, 2, … (producer_seq) under an id new at each start
 * (producer_id). The tracker keeps, per producer, the lowest number not yet seen after the
 * contiguous prefix (`next`) and the numbers seen beyond it. A number at or below the prefix, or
 * one already held, is a duplicate (a retry, a Kafka re-delivery): ignored. A hole below a held
 * number is a gap; it is reported once it has stayed open for `graceMs` of the caller's clock,
 * and the tracker then moves past it (a number of the range arriving later is a duplicate).
 */

export interface LossRange {
  producer_id: string;
  /** First and last missing number, inclusive. */
  from: number;
  to: number;
  /** Event time of the first event seen after the gap (deterministic: the same on a replay). */
  after_at: number;
  after_event_id: string;
}

interface Ahead {
  t: number;
  eventId: string;
}

interface ProducerState {
  next: number;
  ahead: Map<number, Ahead>;
  last: number;
}

export type Observation = 'first' | 'in_order' | 'ahead' | 'duplicate';

export interface LossTrackerOptions {
  graceMs: number;
  /** A producer silent this long (with no open gap) is forgotten. */
  forgetMs: number;
  /** Producers tracked; the least recently seen is dropped beyond it. */
  maxProducers: number;
  /** Numbers held beyond a gap per producer; past it the gap is reported without waiting for the grace. */
  maxAhead: number;
}

export class LossTracker {
  private readonly producers = new Map<string, ProducerState>();

  constructor(private readonly opts: LossTrackerOptions) {}

  observe(producerId: string, seq: number, t: number, eventId: string): Observation {
    const p = this.producers.get(producerId);
    if (!p) {
      // First sight (a new producer, or this process started mid-stream): its number starts the prefix.
      if (this.producers.size >= this.opts.maxProducers) this.producers.delete(this.producers.keys().next().value as string);
      this.producers.set(producerId, { next: seq + 1, ahead: new Map(), last: t });
      return 'first';
    }
    if (t > p.last) p.last = t;
    if (seq < p.next || p.ahead.has(seq)) return 'duplicate';
    if (seq > p.next) {
      p.ahead.set(seq, { t, eventId });
      return 'ahead';
    }
    p.next = seq + 1;
    this.advance(p);
    return 'in_order';
  }

  /** Gaps open for at least the grace at `clock`, oldest first per producer; each is reported once. */
  due(clock: number): LossRange[] {
    const out: LossRange[] = [];
    for (const [id, p] of this.producers) {
      while (p.ahead.size > 0) {
        let opened = Number.POSITIVE_INFINITY;
        let first = Number.POSITIVE_INFINITY;
        for (const [seq, a] of p.ahead) {
          if (a.t < opened) opened = a.t;
          if (seq < first) first = seq;
        }
        if (clock - opened < this.opts.graceMs && p.ahead.size <= this.opts.maxAhead) break;
        const after = p.ahead.get(first) as Ahead;
        out.push({ producer_id: id, from: p.next, to: first - 1, after_at: after.t, after_event_id: after.eventId });
        p.next = first;
        this.advance(p);
      }
      if (p.ahead.size === 0 && clock - p.last > this.opts.forgetMs) this.producers.delete(id);
    }
    return out;
  }

  /** Open gaps right now, per producer (for tests and the state gauge). */
  openGaps(producerId: string): Array<[number, number]> {
    const p = this.producers.get(producerId);
    if (!p) return [];
    const held = [...p.ahead.keys()].sort((a, b) => a - b);
    const gaps: Array<[number, number]> = [];
    let expect = p.next;
    for (const s of held) {
      if (s > expect) gaps.push([expect, s - 1]);
      expect = s + 1;
    }
    return gaps;
  }

  size(): number {
    let n = this.producers.size;
    for (const p of this.producers.values()) n += p.ahead.size;
    return n;
  }

  private advance(p: ProducerState): void {
    while (p.ahead.has(p.next)) {
      p.ahead.delete(p.next);
      p.next++;
    }
  }
}
