import { AuditstreamError } from '@auditstream/core';
import type { Alert } from './alert.js';
import { Engine } from './engine.js';
import { type AlertEvent, eventTimeMs } from './event.js';
import type { RuleSet } from './rules/types.js';

/** Parses NDJSON audit events (blank lines skipped; an event without event_id gets `line-N`); errors name the line. */
export function parseNdjson(text: string, source = 'input'): AlertEvent[] {
  const out: AlertEvent[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).trim();
    if (!line) continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      throw new AuditstreamError('EVENTS_INVALID', `${source} line ${i + 1}: not valid JSON`, { field: `line ${i + 1}` });
    }
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new AuditstreamError('EVENTS_INVALID', `${source} line ${i + 1}: not a JSON object`);
    const e = v as AlertEvent;
    if (e.event_id === undefined) e.event_id = `line-${i + 1}`;
    out.push(e);
  }
  return out;
}

export interface OfflineResult {
  /** Each alert in its final version (after the updates the events caused), in firing order. */
  alerts: Alert[];
  evaluated: number;
  late: number;
  invalid: number;
}

/**
 * Replays events through rules with nothing but the engine (for `auditstream rules test`):
 * events are sorted by occurred_at first (a recorded file is rarely in order), clock-driven
 * rules are advanced to the newest event time at the end, and no wall clock is involved,
 * so the result only depends on the input.
 */
export function runRulesOffline(
  events: AlertEvent[],
  rules: RuleSet,
  options: { allowed_lateness_ms?: number; sample_size?: number; sort?: boolean } = {},
): OfflineResult {
  const byId = new Map<string, Alert>();
  let late = 0;
  let invalid = 0;
  let maxT = Number.NEGATIVE_INFINITY;
  const ordered =
    options.sort === false
      ? events
      : events
          .map((e, i) => ({ e, i, t: eventTimeMs(e) }))
          .sort((a, b) => a.t - b.t || a.i - b.i)
          .map((x) => x.e);
  const engine = new Engine({
    rules,
    allowed_lateness_ms: options.allowed_lateness_ms ?? 0,
    limits: { maxEventsPerKey: 100_000, maxKeys: 1_000_000, sampleSize: options.sample_size ?? 10 },
    now: () => (Number.isFinite(maxT) ? maxT : 0),
    onAlert: (d) => {
      byId.delete(d.alert.alert_id);
      byId.set(d.alert.alert_id, d.alert);
    },
    metrics: { late: () => late++, invalid: () => invalid++ },
  });
  let evaluated = 0;
  for (const e of ordered) {
    const t = eventTimeMs(e);
    if (Number.isFinite(t) && t > maxT) maxT = t;
    engine.process(e);
    evaluated++;
    engine.advanceTimers(engine.watermark);
  }
  if (Number.isFinite(maxT)) engine.advanceTimers(maxT);
  const alerts = [...byId.values()].sort((a, b) => a.fired_at - b.fired_at || a.window_start - b.window_start);
  return { alerts, evaluated, late, invalid };
}

export interface RulesComparison {
  baseline: OfflineResult;
  proposed: OfflineResult;
  /** Alerts only the proposed rules raise, and only the baseline rules raise (by alert id: rule, group key, window start). */
  added: Alert[];
  removed: Alert[];
  /** Fired alerts per rule id, for each rule set. */
  perRule: Array<{ rule_id: string; baseline: number; proposed: number }>;
}

/** A rule change tried on recorded events: what the proposed rules raise that the baseline does not, and the reverse. */
export function compareRulesOffline(
  events: AlertEvent[],
  baseline: RuleSet,
  proposed: RuleSet,
  options: Parameters<typeof runRulesOffline>[2] = {},
): RulesComparison {
  const before = runRulesOffline(events, baseline, options);
  const after = runRulesOffline(events, proposed, options);
  const ids = (r: OfflineResult) => new Set(r.alerts.map((a) => a.alert_id));
  const beforeIds = ids(before);
  const afterIds = ids(after);
  const counts = new Map<string, { rule_id: string; baseline: number; proposed: number }>();
  const count = (rule: string) => {
    const c = counts.get(rule) ?? { rule_id: rule, baseline: 0, proposed: 0 };
    counts.set(rule, c);
    return c;
  };
  for (const r of [...baseline.rules, ...proposed.rules]) count(r.id);
  for (const a of before.alerts) count(a.rule_id).baseline++;
  for (const a of after.alerts) count(a.rule_id).proposed++;
  return {
    baseline: before,
    proposed: after,
    added: after.alerts.filter((a) => !beforeIds.has(a.alert_id)),
    removed: before.alerts.filter((a) => !afterIds.has(a.alert_id)),
    perRule: [...counts.values()],
  };
}
