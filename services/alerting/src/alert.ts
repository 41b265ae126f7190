import { createHash } from 'node:crypto';

export type Severity = 'info' | 'low' | 'medium' | 'high' | 'critical';
export const SEVERITIES: readonly Severity[] = ['info', 'low', 'medium', 'high', 'critical'];

/**
 * An alert is a record, not a message: one per incident (rule + group key + window), its id
 * derived from those three so that re-evaluating the same events (replay after a restart,
 * a second instance) yields the same id and sinks can dedupe on it.
 * Times are epoch milliseconds.
 */
export interface Alert {
  alert_id: string;
  rule_id: string;
  rule_name: string;
  rule_type: string;
  severity: Severity;
  tenant_id: string;
  /** `tenant_id=acme&actor.id=bob`: the rule's group_by values, URI-encoded. */
  group_key: string;
  /** The group_by fields and their values (tenant_id first). */
  group: Record<string, string>;
  window_start: number;
  window_end: number;
  /** Events attributed to the incident so far. */
  count: number;
  first_event_at: number;
  last_event_at: number;
  /** Provenance: the first event ids of the incident, at most `sample_size`. */
  sample_event_ids: string[];
  summary: string;
  /** Rule-type details: distinct_count, value, silent_for_s, ... */
  details: Record<string, string>;
  /** Wall-clock time the alert fired, then of its last update. */
  fired_at: number;
  updated_at: number;
  /** 0 when fired, +1 per update. */
  version: number;
}

export type DeliveryKind = 'fired' | 'updated';

export interface AlertDelivery {
  kind: DeliveryKind;
  alert: Alert;
}

/**
 * Deterministic alert id: SHA-256 of `rule_id|group_key|window_start`, first 128 bits
 * laid out as an RFC 9562 UUID version 8 (the "custom" version), so it reads like a UUID,
 * sorts nowhere in particular, and is stable across restarts and instances.
 */
export function alertId(ruleId: string, groupKey: string, windowStart: number): string {
  const h = createHash('sha256')
    .update(`${ruleId}|${groupKey}|${Math.floor(windowStart)}`)
    .digest();
  h[6] = 0x80 | ((h[6] as number) & 0x0f);
  h[8] = 0x80 | ((h[8] as number) & 0x3f);
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

export function encodeGroupKey(entries: ReadonlyArray<readonly [string, string]>): string {
  return entries.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
}

/** Event-supplied text going into summaries: no control characters, bounded length. */
export function cleanText(s: string, max = 200): string {
  const t = s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ');
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

/** `{count}`, `{group.actor.id}`, `{actor.ip}` ... placeholders; unknown ones render as `?`. */
export function renderSummary(template: string, lookup: (name: string) => string | undefined): string {
  return cleanText(
    template.replace(/\{([a-zA-Z0-9_.\-:]+)\}/g, (_, name: string) => lookup(name) ?? '?'),
    500,
  );
}

export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}
