import type { AuditEvent, Severity } from '@auditstream/schemas';
import { defineEnrichStep } from './step.js';

export interface SeverityRuleConfig {
  readonly category?: string | undefined;
  readonly outcome?: string | undefined;
  readonly action?: string | undefined;
  readonly severity: Severity;
}

const RANK: Record<Severity, number> = { info: 0, low: 1, medium: 2, high: 3, critical: 4 };

function actionMatcher(pattern: string | undefined): (action: string) => boolean {
  if (pattern === undefined || pattern === '*') return () => true;
  if (pattern.startsWith('*')) {
    const suffix = pattern.slice(1);
    return (a) => a.endsWith(suffix);
  }
  if (pattern.endsWith('*')) {
    const prefix = pattern.slice(0, -1);
    return (a) => a.startsWith(prefix);
  }
  return (a) => a === pattern;
}

/**
 * Compiles severity rules: each matches on category, outcome and action (exact, `prefix*`
 * or `*suffix`); all given conditions must hold. The result is the highest severity among
 * the emitter's and every matching rule's: rules raise, never lower.
 */
export function compileSeverityRules(
  rules: readonly SeverityRuleConfig[],
): (event: Pick<AuditEvent, 'category' | 'outcome' | 'action' | 'severity'>) => Severity {
  const compiled = rules.map((r) => ({ ...r, matchAction: actionMatcher(r.action), rank: RANK[r.severity] }));
  return (event) => {
    let best: Severity = event.severity in RANK ? event.severity : 'info';
    for (const r of compiled) {
      if (r.rank <= RANK[best]) continue;
      if (r.category !== undefined && r.category !== event.category) continue;
      if (r.outcome !== undefined && r.outcome !== event.outcome) continue;
      if (!r.matchAction(event.action)) continue;
      best = r.severity;
    }
    return best;
  };
}

/** Raises the event's severity by the configured rules (stored in the event's own column). */
export const severityStep = defineEnrichStep({
  stage: 'severity',
  columns: [],
  create({ cfg }) {
    if (!cfg.severity_enabled) return undefined;
    const severity = compileSeverityRules(cfg.severity_rules);
    return (event) => {
      event.severity = severity(event);
      return true;
    };
  },
});
