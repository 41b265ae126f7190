import type { Alert, Severity } from '../alert.js';
import type { Filter } from './filters.js';

export type RuleType = 'match' | 'threshold' | 'distinct' | 'sequence' | 'new_value' | 'absence' | 'event_loss';
export const RULE_TYPES: readonly RuleType[] = ['match', 'threshold', 'distinct', 'sequence', 'new_value', 'absence', 'event_loss'];

/** What a rule's state tells the engine when an event (or the clock) completes its condition. */
export interface Trigger {
  /** Event time the qualifying window starts at: part of the alert id. */
  window_start: number;
  /** Event time of the newest event in the qualifying window. */
  last_at: number;
  /** Events in the qualifying window. */
  count: number;
  /** Provenance: ids of events in the qualifying window, oldest first (the engine keeps a bounded sample). */
  event_ids: string[];
  details?: Record<string, string>;
  /** new_value: the new value, appended to the group key so each value is its own incident. */
  key_suffix?: readonly [string, string];
  /**
   * sequence: the trigger is a completed sequence. One whose events all come after an open
   * incident's last event is a new incident (fired), not an update of the open one.
   */
  completion?: boolean;
}

export interface StateLimits {
  /** Per group key: timestamps kept for window rules; the oldest are dropped beyond it. */
  maxEventsPerKey: number;
  /** Per rule: group keys (or key+value pairs for new_value) kept; least recently seen dropped beyond it. */
  maxKeys: number;
  /** Event ids a trigger carries. */
  sampleSize: number;
}

/** What the engine's tick knows besides the timer clock. */
export interface TickContext {
  /**
   * Every assigned partition (of every stage) is read to its end: the clock is complete. While
   * false, one partition's events may be far ahead of another's (a backlog).
   */
  caughtUp: boolean;
  /** Wall clock (epoch ms). */
  wallMs: number;
}

/** Per-rule evaluation state. Events reach it only when they passed the rule's filter. */
export interface RuleState {
  onEvent(key: string, t: number, eventId: string, event: Readonly<Record<string, unknown>>): Trigger | undefined;
  /** Forget what no event at or after `watermark` can use any more. */
  evict(watermark: number): void;
  /** Entries held (for the state gauge). */
  size(): number;
  /** Clock-driven rules (absence, event_loss): triggers due at `clock`. */
  tick?(clock: number, at: TickContext): Array<{ key: string; trigger: Trigger }>;
  /** event_loss: ranges dropped unjudged since the last call, per reason (engine metric `lossSkipped`). */
  takeSkips?(): Array<{ reason: 'max_ahead' | 'max_producers'; count: number }>;
  /** A delivered alert read back at start (new_value learns its value). */
  seed?(alert: Alert): void;
}

/** A validated, compiled rule. */
export interface Rule {
  id: string;
  name: string;
  description: string;
  severity: Severity;
  type: RuleType;
  filter: Filter;
  /** `suppress`: true for an event the rule must ignore (allowlisted actor, IP or CIDR). */
  allowlisted?: Filter;
  /** group_by fields after the implicit leading tenant_id. */
  group_by: string[];
  summary: string;
  /** An incident stays open (later matches update it) until last event + cooldown. */
  cooldown_ms: number;
  /** Event-time span the rule looks back over: sizes the replay on restart. */
  lookback_ms: number;
  /** Stable hash of the rule's definition: state survives a reload when it is unchanged. */
  fingerprint: string;
  /**
   * A stream rule (event_loss) watches the topic itself: it sees every decodable record, late,
   * repeated or invalid ones included (Engine.observe), and no filter applies.
   */
  stream?: boolean;
  /**
   * A stream rule's group key for an event (the key its alerts about that event will carry), or
   * undefined when the event says nothing to it: how the repartition stage routes events to it.
   */
  streamKey?: (event: Readonly<Record<string, unknown>>) => string | undefined;
  createState(limits: StateLimits): RuleState;
}

export interface RuleSet {
  rules: Rule[];
  /** Hash of the whole file's effective content. */
  fingerprint: string;
  source: string;
}
