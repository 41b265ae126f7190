/**
 * Event-time clocks, one per tenant, so that no producer can move time for another tenant.
 *
 * - Detection time of an event is its occurred_at, clamped to its arrival (the Kafka record
 *   timestamp, and never later than the wall clock) when it is more than `max_future_skew_ms`
 *   ahead of it: an event cannot have happened after it reached the broker.
 * - Each tenant's watermark is the newest detection time of *that tenant's* events minus the
 *   allowed lateness; an event is late only against its own tenant's watermark.
 * - State is evicted behind the oldest watermark of the tenants still active (an event that
 *   arrived within `idle_ms` of the newest arrival); a tenant silent for longer does not hold
 *   memory back, and when it resumes its windows start afresh. Arrival, not event time, decides
 *   activity, so a future-dated tenant cannot make the others look idle.
 * - `newest - lateness` (over all tenants) drives clock-driven rules (absence) and eviction cadence.
 */
export interface EventClockOptions {
  /** Allowed lateness in force (widened during a replay). */
  lateness: () => number;
  /** Event times further ahead of their arrival than this are clamped to the arrival. */
  max_future_skew_ms?: number;
  /** Tenants tracked; the least recently advanced is forgotten beyond it. */
  max_tenants: number;
  /** A tenant whose last event arrived this far before the newest arrival stops holding eviction back. */
  idle_ms: () => number;
}

export class EventClock {
  /** tenant → newest detection time and last arrival; Map order = least recently seen first. */
  private readonly tenants = new Map<string, { t: number; arrival: number }>();
  private newest = Number.NEGATIVE_INFINITY;
  private newestArrival = Number.NEGATIVE_INFINITY;

  constructor(private readonly opts: EventClockOptions) {}

  /** Detection time of an event: occurred_at, or its arrival when occurred_at is too far ahead of it. */
  place(occurredMs: number, arrivalMs: number | undefined, wallMs: number): { t: number; arrival: number; clamped: boolean } {
    const arrival = arrivalMs !== undefined && Number.isFinite(arrivalMs) ? Math.min(arrivalMs, wallMs) : wallMs;
    const skew = this.opts.max_future_skew_ms;
    if (skew === undefined || !Number.isFinite(skew) || occurredMs <= arrival + skew) return { t: occurredMs, arrival, clamped: false };
    return { t: arrival, arrival, clamped: true };
  }

  watermarkOf(tenant: string): number {
    return (this.tenants.get(tenant)?.t ?? Number.NEGATIVE_INFINITY) - this.opts.lateness();
  }

  /** Newest detection time over all tenants minus the lateness (the timer clock's event-time part). */
  get watermark(): number {
    return this.newest - this.opts.lateness();
  }

  get newestSeen(): number {
    return this.newest;
  }

  /** Records an accepted event; true when the overall newest time moved. */
  observe(tenant: string, t: number, arrival: number): boolean {
    const cur = this.tenants.get(tenant);
    if (cur) {
      this.tenants.delete(tenant); // re-inserted last: least recently seen first
      if (t > cur.t) cur.t = t;
      if (arrival > cur.arrival) cur.arrival = arrival;
      this.tenants.set(tenant, cur);
    } else {
      this.tenants.set(tenant, { t, arrival });
      if (this.tenants.size > this.opts.max_tenants) this.tenants.delete(this.tenants.keys().next().value as string);
    }
    if (arrival > this.newestArrival) this.newestArrival = arrival;
    if (t <= this.newest) return false;
    this.newest = t;
    return true;
  }

  /** The oldest watermark among active tenants: nothing an accepted event can still use lies behind it. */
  evictionWatermark(): number {
    const floor = this.newestArrival - this.opts.idle_ms();
    let min = this.newest;
    for (const c of this.tenants.values()) if (c.arrival >= floor && c.t < min) min = c.t;
    return min - this.opts.lateness();
  }
}
