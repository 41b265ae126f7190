import type { FilterContext } from './filters.js';
import type { RuleState, StateLimits } from './types.js';
import type { MinSources } from './window.js';

/** What a rule-type module contributes to a compiled rule. */
export interface RuleTypeParts {
  /** Event-time span the state looks back over (0 when none). */
  lookback_ms: number;
  /** Default incident cooldown when the rule sets no cooldown_s. */
  cooldown_ms: number;
  default_summary: string;
  /** A stream rule (types.ts Rule.stream). */
  stream?: boolean;
  /** A stream rule's group key for one event (types.ts Rule.streamKey). */
  streamKey?: (event: Readonly<Record<string, unknown>>) => string | undefined;
  createState(limits: StateLimits): RuleState;
}

export interface BuildContext extends FilterContext {
  /** group_by fields after tenant_id: absence's `expected` entries must name them all. */
  group_by: readonly string[];
  /** The rule's `min_sources`, for the rule types that support it (threshold, sequence). */
  min_sources?: MinSources;
}
