import { type Alert, type AlertDelivery, alertId, cleanText, encodeGroupKey, formatDuration, renderSummary } from './alert.js';
import { eventTimeMs, fieldString } from './event.js';
import { EventClock } from './event-clock.js';
import { groupEntries, type RouteScope } from './route.js';
import type { Rule, RuleSet, RuleState, StateLimits, TickContext, Trigger } from './rules/types.js';

/** Hooks the engine reports through; app.ts backs them with prom-client metrics. */
export interface EngineMetrics {
  evaluated?(durationSeconds: number): void;
  fired?(ruleId: string, eventToAlertSeconds: number | undefined): void;
  late?(): void;
  /** Events an event_loss alert reports missing (counted when the alert fires, once). */
  lost?(count: number): void;
  /** Producer ranges event_loss dropped without judging them (behind past its memory bound, or evicted). */
  lossSkipped?(reason: 'max_ahead' | 'max_producers', count: number): void;
  invalid?(): void;
  duplicate?(): void;
  futureClamped?(): void;
  suppressed?(reason: 'delivered' | 'replay_update' | 'rate_limited'): void;
  /** An event a rule skipped because its actor or source IP is on the rule's allowlist. */
  allowlisted?(ruleId: string): void;
}

export interface EngineOptions {
  rules: RuleSet;
  /** Events older than (newest event time seen for their tenant - this) are dropped as late. */
  allowed_lateness_ms: number;
  /** Event times further than this ahead of their arrival (Kafka timestamp, at most the wall clock) are clamped to the arrival. */
  max_future_skew_ms?: number;
  /** Least wall-clock time between two `updated` deliveries of one incident; updates in between are coalesced. Default 0. */
  min_update_interval_ms?: number;
  limits: StateLimits;
  /** Wall clock (epoch ms). */
  now?: () => number;
  onAlert: (delivery: AlertDelivery) => void;
  metrics?: EngineMetrics;
  /** Delivered alert ids remembered for dedupe (read back at start + fired since). */
  max_delivered_ids?: number;
  /** Recent event ids remembered to skip duplicates (producer retries, redelivery); 0 disables. */
  dedupe_event_ids?: number;
  /**
   * Scale-out: whether this instance owns a group key now (its repartition partition is assigned
   * here). Clock-driven triggers (absence, event_loss) fire only for owned keys, so a key whose
   * partition moved away never fires from stale state. Default: every key.
   */
  owns?: (key: string) => boolean;
}

interface Incident {
  alert: Alert;
  /** Event time after which a new trigger for the key is a new incident. */
  end: number;
  /** Wall-clock time of the incident's last delivery (rate limit of updates). */
  sentAt: number;
  /** An update held back by the rate limit, delivered by `tick` or when the incident closes. */
  pending: boolean;
}

interface Slot {
  rule: Rule;
  state: RuleState;
  incidents: Map<string, Incident>;
}

/**
 * The rules engine: event-time evaluation of every rule, one alert per incident.
 *
 * Time (event-clock.ts): one watermark per tenant = newest event time of that tenant -
 * allowed lateness; future times are clamped to the event's arrival. Events older than their
 * tenant's watermark are dropped (and counted); everything newer is placed by event time, so
 * out-of-order arrival within the lateness is counted exactly. Clock-driven rules (absence)
 * use a separate timer clock: the newest watermark, pushed on by the wall clock only while
 * the caller says it is caught up (see `tick`).
 *
 * Incidents: a trigger for (rule, group key) opens an incident and fires an alert whose id
 * is derived from (rule, key, window start). Triggers for the same key until
 * last event + cooldown update that alert (an `updated` delivery, at most one per
 * `min_update_interval_ms`) and never fire again, except a new completion of a sequence
 * (its events all after the incident's last event): that is a new incident and fires.
 *
 * Replay: between `beginReplay()` and `endReplay()` (rebuilding windows after a restart)
 * the lateness is widened to the replay span, updates are not delivered, and a fired alert
 * is delivered only when it is not known as delivered (`seedDelivered`), i.e. it was missed.
 */
export class Engine {
  private slots = new Map<string, Slot>();
  private ruleSet: RuleSet;
  private readonly clock: EventClock;
  private lastEvictAt = Number.NEGATIVE_INFINITY;
  private timerClock = Number.NEGATIVE_INFINITY;
  private replayLatenessMs: number | undefined;
  private readonly delivered = new Map<string, true>();
  private readonly recentIds = new Set<string>();
  private readonly now: () => number;

  constructor(private readonly opts: EngineOptions) {
    this.now = opts.now ?? Date.now;
    this.clock = new EventClock({
      lateness: () => this.lateness(),
      max_future_skew_ms: opts.max_future_skew_ms,
      max_tenants: opts.limits.maxKeys,
      idle_ms: () => this.maxLookbackMs + this.lateness(),
    });
    this.ruleSet = opts.rules;
    this.setRules(opts.rules);
  }

  get rules(): RuleSet {
    return this.ruleSet;
  }

  get replaying(): boolean {
    return this.replayLatenessMs !== undefined;
  }

  /** Newest event time seen (any tenant) minus the lateness in force: the timer clock's event-time part. */
  get watermark(): number {
    return this.clock.watermark;
  }

  /** A tenant's watermark: its events older than this are late. */
  watermarkOf(tenant: string): number {
    return this.clock.watermarkOf(tenant);
  }

  /** Longest event-time span any rule looks back over (sizes the replay). */
  get maxLookbackMs(): number {
    return Math.max(0, ...this.ruleSet.rules.map((r) => Math.max(r.lookback_ms, r.cooldown_ms)));
  }

  /** Swaps the rule set. A rule whose definition is unchanged keeps its windows and incidents. */
  setRules(set: RuleSet): void {
    const next = new Map<string, Slot>();
    for (const rule of set.rules) {
      const old = this.slots.get(rule.id);
      if (old && old.rule.fingerprint === rule.fingerprint) next.set(rule.id, old);
      else next.set(rule.id, { rule, state: rule.createState(this.opts.limits), incidents: old?.incidents ?? new Map() });
    }
    this.slots = next;
    this.ruleSet = set;
  }

  beginReplay(spanMs: number): void {
    this.replayLatenessMs = Math.max(spanMs, this.opts.allowed_lateness_ms);
  }

  endReplay(): void {
    this.replayLatenessMs = undefined;
    this.evict();
  }

  /** An alert read back from the alerts topic: known as delivered, and its incident stays open. */
  seedDelivered(alert: Alert): void {
    this.remember(alert.alert_id);
    const slot = this.slots.get(alert.rule_id);
    if (!slot) return;
    if (slot.state.seed) {
      slot.state.seed(alert);
      return;
    }
    if (slot.rule.type === 'absence') return;
    const cur = slot.incidents.get(alert.group_key);
    // The newest incident of the key stays open; of one alert, its newest version.
    if (cur && (cur.alert.alert_id === alert.alert_id ? cur.alert.version >= alert.version : cur.alert.last_event_at >= alert.last_event_at)) return;
    slot.incidents.set(alert.group_key, { alert, end: alert.last_event_at + slot.rule.cooldown_ms, sentAt: alert.updated_at, pending: false });
  }

  isDelivered(id: string): boolean {
    return this.delivered.has(id);
  }

  /**
   * Evaluates one event; `arrivalMs` is when it reached the broker (the Kafka record timestamp), if known.
   * `route` (scale-out): the event is a copy from the repartition topic, evaluated only for the group keys it carries.
   */
  process(event: Readonly<Record<string, unknown>>, arrivalMs?: number, route?: RouteScope): void {
    const started = performance.now();
    try {
      this.evaluate(event, arrivalMs, route);
    } finally {
      this.opts.metrics?.evaluated?.((performance.now() - started) / 1000);
    }
  }

  private evaluate(event: Readonly<Record<string, unknown>>, arrivalMs: number | undefined, route: RouteScope | undefined): void {
    const occurred = eventTimeMs(event as { occurred_at?: unknown });
    const id = typeof event.event_id === 'string' ? event.event_id : undefined;
    const tenant = typeof event.tenant_id === 'string' && event.tenant_id ? event.tenant_id : undefined;
    if (!Number.isFinite(occurred) || !id || !tenant) {
      this.opts.metrics?.invalid?.();
      return;
    }
    const { t, arrival, clamped } = this.clock.place(occurred, arrivalMs, this.now());
    if (clamped) this.opts.metrics?.futureClamped?.();
    // Stream rules (event_loss) count every record, late or repeated: a late one is not a lost one.
    this.observeStream(t, id, event, route);
    if (t < this.clock.watermarkOf(tenant)) {
      this.opts.metrics?.late?.();
      return;
    }
    const dedupe = this.opts.dedupe_event_ids ?? 100_000;
    if (dedupe > 0) {
      // Copies of one event in two repartition partitions are not duplicates of each other.
      const seenKey = route ? `${route.scope}/${id}` : id;
      if (this.recentIds.has(seenKey)) {
        this.opts.metrics?.duplicate?.();
        return;
      }
      this.recentIds.add(seenKey);
      if (this.recentIds.size > dedupe) this.recentIds.delete(this.recentIds.values().next().value as string);
    }
    for (const slot of this.slots.values()) {
      const { rule } = slot;
      if (rule.stream || !rule.filter(event)) continue;
      if (rule.allowlisted?.(event)) {
        this.opts.metrics?.allowlisted?.(rule.id);
        continue;
      }
      const entries = groupEntries(rule, event, tenant);
      if (!entries) continue;
      const key = encodeGroupKey(entries);
      if (route && !route.accept(key)) continue;
      const trig = slot.state.onEvent(key, t, id, event);
      if (trig) this.trigger(slot, key, entries, trig, t, event);
    }
    if (this.clock.observe(tenant, t, arrival) && this.clock.newestSeen - this.lastEvictAt >= 1000) this.evict();
  }

  /**
   * A record the gate refused as invalid (ingest dead-letters it): only the stream rules see it,
   * since it did reach the topic (and the DLQ), so its number is no loss.
   */
  observe(event: Readonly<Record<string, unknown>>, arrivalMs: number, route?: RouteScope): void {
    const id = typeof event.event_id === 'string' ? event.event_id : '';
    const occurred = eventTimeMs(event as { occurred_at?: unknown });
    const t = Number.isFinite(occurred) ? this.clock.place(occurred, arrivalMs, this.now()).t : arrivalMs;
    this.observeStream(t, id, event, route);
  }

  private observeStream(t: number, id: string, event: Readonly<Record<string, unknown>>, route: RouteScope | undefined): void {
    for (const slot of this.slots.values()) {
      if (!slot.rule.stream) continue;
      if (route) {
        const key = slot.rule.streamKey?.(event);
        if (key === undefined || !route.accept(key)) continue;
      }
      slot.state.onEvent('', t, id, event);
    }
  }

  /**
   * Advances clock-driven rules. `wallNow` moves the timer clock only when `caughtUp` (the
   * consumer has no backlog): then silence in wall-clock time is real silence. event_loss
   * judges its gaps only when caught up too (rules/loss-tracker.ts).
   */
  tick(wallNow: number, caughtUp: boolean): void {
    if (this.replaying) return;
    this.flushUpdates();
    let clock = Math.max(this.timerClock, this.watermark);
    if (caughtUp) clock = Math.max(clock, wallNow - this.opts.allowed_lateness_ms);
    this.advanceTimers(clock, { caughtUp, wallMs: wallNow });
  }

  /** Moves the timer clock to `clock` (never back) and fires what is due; by default the clock is complete (offline.ts: all events known). */
  advanceTimers(clock: number, at: TickContext = { caughtUp: true, wallMs: this.now() }): void {
    if (!Number.isFinite(clock) || clock < this.timerClock) return;
    this.timerClock = clock;
    for (const slot of this.slots.values()) {
      if (!slot.state.tick) continue;
      const due = slot.state.tick(clock, at);
      for (const s of slot.state.takeSkips?.() ?? []) this.opts.metrics?.lossSkipped?.(s.reason, s.count);
      for (const { key, trigger } of due) {
        if (this.opts.owns && !this.opts.owns(key)) continue;
        this.trigger(slot, key, decodeGroupKey(key), { ...trigger, last_at: trigger.window_start }, undefined, undefined, clock);
      }
    }
  }

  stateEntries(): number {
    let n = 0;
    for (const s of this.slots.values()) n += s.state.size() + s.incidents.size;
    return n;
  }

  openIncidents(): Alert[] {
    return [...this.slots.values()].flatMap((s) => [...s.incidents.values()].map((i) => i.alert));
  }

  /** Delivers updates the rate limit held back, once their incident's interval has passed. */
  flushUpdates(): void {
    const wall = this.now();
    const interval = this.opts.min_update_interval_ms ?? 0;
    for (const slot of this.slots.values()) {
      for (const inc of slot.incidents.values()) if (inc.pending && wall - inc.sentAt >= interval) this.deliverUpdate(inc);
    }
  }

  private evict(): void {
    const wm = this.clock.evictionWatermark();
    if (!Number.isFinite(wm)) return;
    this.lastEvictAt = this.clock.newestSeen;
    for (const slot of this.slots.values()) {
      slot.state.evict(wm);
      for (const [k, inc] of slot.incidents) {
        if (inc.end >= wm) continue;
        if (inc.pending && !this.replaying) this.deliverUpdate(inc); // the incident's final state
        slot.incidents.delete(k);
      }
    }
  }

  private lateness(): number {
    return this.replayLatenessMs ?? this.opts.allowed_lateness_ms;
  }

  private remember(id: string): void {
    this.delivered.delete(id);
    this.delivered.set(id, true);
    const max = this.opts.max_delivered_ids ?? 100_000;
    while (this.delivered.size > max) this.delivered.delete(this.delivered.keys().next().value as string);
  }

  private trigger(
    slot: Slot,
    key: string,
    group: ReadonlyArray<readonly [string, string]>,
    trig: Trigger,
    t: number | undefined,
    event: Readonly<Record<string, unknown>> | undefined,
    clock?: number,
  ): void {
    const { rule } = slot;
    const incKey = trig.key_suffix ? `${key}&${encodeGroupKey([trig.key_suffix])}` : key;
    const at = t ?? trig.last_at;
    const existing = slot.incidents.get(incKey);
    // A new completion (none of its events in the open incident, e.g. a takeover after a
    // benign lockout) is its own incident, so that every sink sees it fire.
    const completion = trig.completion === true && existing !== undefined && trig.window_start > existing.alert.last_event_at;
    if (existing && at <= existing.end && !completion) {
      this.update(slot, existing, trig, at, event);
      return;
    }
    if (existing?.pending && !this.replaying) this.deliverUpdate(existing);
    const wall = this.now();
    const lastAt = Math.max(trig.last_at, at);
    const alert: Alert = {
      alert_id: alertId(rule.id, incKey, trig.window_start),
      rule_id: rule.id,
      rule_name: rule.name,
      rule_type: rule.type,
      severity: rule.severity,
      tenant_id: group[0]?.[1] ?? '',
      group_key: key,
      group: Object.fromEntries(group),
      window_start: trig.window_start,
      window_end: clock ?? lastAt,
      count: trig.count,
      first_event_at: trig.window_start,
      last_event_at: lastAt,
      sample_event_ids: trig.event_ids.slice(0, this.opts.limits.sampleSize),
      summary: '',
      details: { ...(trig.details ?? {}), ...(completion && existing ? { previous_alert_id: existing.alert.alert_id } : {}) },
      fired_at: wall,
      updated_at: wall,
      version: 0,
    };
    alert.summary = this.summarize(rule, alert, event);
    if (rule.cooldown_ms > 0) slot.incidents.set(incKey, { alert, end: lastAt + rule.cooldown_ms, sentAt: wall, pending: false });
    if (this.delivered.has(alert.alert_id)) {
      this.opts.metrics?.suppressed?.('delivered');
      return;
    }
    this.remember(alert.alert_id);
    if (rule.type === 'event_loss') this.opts.metrics?.lost?.(trig.count);
    this.opts.metrics?.fired?.(rule.id, this.replaying || t === undefined ? undefined : Math.max(0, (wall - at) / 1000));
    this.opts.onAlert({ kind: 'fired', alert });
  }

  private update(slot: Slot, inc: Incident, trig: Trigger, at: number, event: Readonly<Record<string, unknown>> | undefined): void {
    const prev = inc.alert;
    const ids = prev.sample_event_ids.slice();
    for (const id of trig.event_ids) {
      if (ids.length >= this.opts.limits.sampleSize) break;
      if (!ids.includes(id)) ids.push(id);
    }
    const details = { ...prev.details, ...(trig.details ?? {}) };
    if (prev.details.distinct_count && trig.details?.distinct_count) {
      details.distinct_count = String(Math.max(Number(prev.details.distinct_count), Number(trig.details.distinct_count)));
    }
    const next: Alert = {
      ...prev,
      count: prev.count + 1,
      first_event_at: Math.min(prev.first_event_at, at),
      last_event_at: Math.max(prev.last_event_at, at, trig.last_at),
      window_end: Math.max(prev.window_end, at, trig.last_at),
      sample_event_ids: ids,
      details,
      updated_at: this.now(),
      version: prev.version + 1,
    };
    next.summary = this.summarize(slot.rule, next, event);
    inc.alert = next;
    // Only a trigger renews the cooldown (the rule's condition held again at `at`), never a mere filter match.
    inc.end = Math.max(inc.end, at + slot.rule.cooldown_ms);
    if (this.replaying) {
      this.opts.metrics?.suppressed?.('replay_update');
      return;
    }
    if (this.now() - inc.sentAt < (this.opts.min_update_interval_ms ?? 0)) {
      inc.pending = true;
      this.opts.metrics?.suppressed?.('rate_limited');
      return;
    }
    this.deliverUpdate(inc);
  }

  private deliverUpdate(inc: Incident): void {
    inc.pending = false;
    inc.sentAt = this.now();
    this.opts.onAlert({ kind: 'updated', alert: inc.alert });
  }

  private summarize(rule: Rule, alert: Alert, event: Readonly<Record<string, unknown>> | undefined): string {
    return renderSummary(rule.summary, (name) => {
      switch (name) {
        case 'count':
          return String(alert.count);
        case 'rule_id':
          return rule.id;
        case 'rule_name':
          return rule.name;
        case 'severity':
          return rule.severity;
        case 'group':
          return Object.entries(alert.group)
            .map(([k, v]) => `${k}=${cleanText(v, 100)}`)
            .join(' ');
        case 'window':
          return formatDuration(rule.lookback_ms || rule.cooldown_ms);
        case 'silent_for':
          return alert.details.silent_for_s ? formatDuration(Number(alert.details.silent_for_s) * 1000) : undefined;
        case 'first_event_at':
          return new Date(alert.first_event_at).toISOString();
        case 'last_event_at':
          return new Date(alert.last_event_at).toISOString();
      }
      if (name.startsWith('group.')) {
        const v = alert.group[name.slice(6)];
        return v === undefined ? undefined : cleanText(v, 100);
      }
      if (alert.details[name] !== undefined) return cleanText(alert.details[name] as string, 100);
      if (!event) return undefined;
      const v = fieldString(event, name);
      return v === undefined ? undefined : cleanText(v, 100);
    });
  }
}

export function decodeGroupKey(key: string): Array<[string, string]> {
  return key.split('&').map((part) => {
    const i = part.indexOf('=');
    return [part.slice(0, i), decodeURIComponent(part.slice(i + 1))];
  });
}
