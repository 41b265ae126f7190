/**
 * Per-producer sequence tracking for loss detection (the `event_loss` rule type, docs/alerting.md).
 * Every producer numbers its events 0, 1, 2, … (producer_seq) under an id new at each start
 * (producer_id). The tracker keeps, per producer, the lowest number not yet seen after the
 * contiguous prefix (`next`) and the numbers seen beyond it. A number at or below the prefix, or
 * one already held, is a duplicate (a retry, a Kafka re-delivery): ignored. A hole below a held
 * number is a gap; once reported, the tracker moves past it (a number of the range arriving later
 * is a duplicate).
 *
 * When a gap is due depends on whether the caller's clock is complete (`due`'s `caughtUp`: every
 * partition read to its end). Behind, a hole proves nothing: kafkajs hands over one partition's
 * batch at a time, so one partition's numbers can arrive long before another's, however far the
 * event-time clock moves. So:
 * - caught up: a gap is due once open for `graceMs` of the clock, counted from the later of the
 *   first held number's time and the start of the current caught-up stretch (a gap left by a
 *   backlog gets a full grace after catching up, for what is still in flight);
 * - behind: only the lowest gap, once stuck for `behindGraceMs` of wall-clock time (a consumer
 *   that never catches up delays a report by at most that, instead of silencing the rule);
 * - behind and holding more than `maxAhead` numbers: the producer's range is skipped, not
 *   judged (counted, see `takeSkips`), and checking resumes after the highest number seen.
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
  /** The lowest gap's start (`next`) when it was first seen stuck at a tick, and the wall time then. */
  stuck?: { next: number; wallMs: number };
}

export type Observation = 'first' | 'in_order' | 'ahead' | 'duplicate';

/** Why a producer's range was dropped unjudged: past `maxAhead` while behind, or evicted past `maxProducers` with a gap open. */
export type SkipReason = 'max_ahead' | 'max_producers';

export interface LossTrackerOptions {
  graceMs: number;
  /** While behind, the lowest gap of a producer is reported once stuck this long (wall clock). */
  behindGraceMs: number;
  /** A producer silent this long (with no open gap) is forgotten. */
  forgetMs: number;
  /** Producers tracked; the least recently seen is dropped beyond it. */
  maxProducers: number;
  /** Numbers held beyond a gap per producer; past it, caught up: the gap is reported without waiting; behind: skipped. */
  maxAhead: number;
}

export interface DueAt {
  /** Every partition read to its end: holes can be judged. */
  caughtUp: boolean;
  wallMs: number;
}

export class LossTracker {
  private readonly producers = new Map<string, ProducerState>();
  /** Unknown until the first tick says otherwise: behind. */
  private caughtUp = false;
  /** Clock at the first caught-up tick of the current stretch. */
  private caughtUpSince: number | undefined;
  private readonly skips = new Map<SkipReason, number>();

  constructor(private readonly opts: LossTrackerOptions) {}

  observe(producerId: string, seq: number, t: number, eventId: string): Observation {
    const p = this.producers.get(producerId);
    if (!p) {
      // First sight (a new producer, or this process started mid-stream): its number starts the prefix.
      if (this.producers.size >= this.opts.maxProducers) {
        const oldest = this.producers.keys().next().value as string;
        if ((this.producers.get(oldest)?.ahead.size ?? 0) > 0) this.skip('max_producers');
        this.producers.delete(oldest);
      }
      this.producers.set(producerId, { next: seq + 1, ahead: new Map(), last: t });
      return 'first';
    }
    if (t > p.last) p.last = t;
    if (seq < p.next || p.ahead.has(seq)) return 'duplicate';
    if (seq > p.next) {
      p.ahead.set(seq, { t, eventId });
      // Checked here, not at the tick: a backlog read between two ticks is not bounded.
      if (!this.caughtUp && p.ahead.size > this.opts.maxAhead) this.restart(p);
      return 'ahead';
    }
    p.next = seq + 1;
    this.advance(p);
    return 'in_order';
  }

  /** Gaps due at `clock`, oldest first per producer; each is reported once. */
  due(clock: number, at: DueAt): LossRange[] {
    this.caughtUp = at.caughtUp;
    if (!at.caughtUp) this.caughtUpSince = undefined;
    else if (this.caughtUpSince === undefined) this.caughtUpSince = clock;
    const out: LossRange[] = [];
    for (const [id, p] of this.producers) {
      while (p.ahead.size > 0) {
        let opened = Number.POSITIVE_INFINITY;
        let first = Number.POSITIVE_INFINITY;
        for (const [seq, a] of p.ahead) {
          if (a.t < opened) opened = a.t;
          if (seq < first) first = seq;
        }
        if (p.stuck?.next !== p.next) p.stuck = { next: p.next, wallMs: at.wallMs };
        if (!this.isDue(p, clock, opened, at)) break;
        const after = p.ahead.get(first) as Ahead;
        out.push({ producer_id: id, from: p.next, to: first - 1, after_at: after.t, after_event_id: after.eventId });
        p.next = first;
        this.advance(p);
      }
      if (p.ahead.size === 0 && clock - p.last > this.opts.forgetMs) this.producers.delete(id);
    }
    return out;
  }

  /** Ranges skipped since the last call, per reason (then reset). */
  takeSkips(): Array<{ reason: SkipReason; count: number }> {
    const out = [...this.skips].map(([reason, count]) => ({ reason, count }));
    this.skips.clear();
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

  private isDue(p: ProducerState, clock: number, opened: number, at: DueAt): boolean {
    if (!at.caughtUp) return at.wallMs - (p.stuck?.wallMs ?? at.wallMs) >= this.opts.behindGraceMs;
    if (p.ahead.size > this.opts.maxAhead) return true;
    return clock - Math.max(opened, this.caughtUpSince ?? clock) >= this.opts.graceMs;
  }

  /** Stops judging the producer's held range and starts afresh after the highest number seen. */
  private restart(p: ProducerState): void {
    let max = p.next;
    for (const seq of p.ahead.keys()) if (seq > max) max = seq;
    p.ahead.clear();
    p.next = max + 1;
    p.stuck = undefined;
    this.skip('max_ahead');
  }

  private skip(reason: SkipReason): void {
    this.skips.set(reason, (this.skips.get(reason) ?? 0) + 1);
  }

  private advance(p: ProducerState): void {
    while (p.ahead.has(p.next)) {
      p.ahead.delete(p.next);
      p.next++;
    }
  }
}
