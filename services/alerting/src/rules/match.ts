import type { RuleTypeParts } from './build.js';
import { onlyKeys, posNumber, type Raw } from './spec-error.js';

/**
 * `match`: every event passing the filter triggers. Matches for the same group key within
 * `window_s` of the previous one belong to one incident (one alert, then updates).
 *
 *   match: { window_s: 300 }      # optional
 */
export function buildMatch(raw: Raw | undefined, path: string): RuleTypeParts {
  const spec = raw ?? {};
  onlyKeys(spec, ['window_s'], path);
  const windowMs = posNumber(spec.window_s, `${path}.window_s`, 300) * 1000;
  return {
    lookback_ms: 0,
    cooldown_ms: windowMs,
    default_summary: '{rule_name}: {action} by {actor.id} ({outcome})',
    createState: () => ({
      onEvent: (_key, t, eventId) => ({ window_start: t, last_at: t, count: 1, event_ids: [eventId] }),
      evict: () => {},
      size: () => 0,
    }),
  };
}
