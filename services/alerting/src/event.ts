/**
 * The engine's view of an audit event. It is deliberately minimal so the engine does not
 * depend on the codec: anything shaped like the Avro contract (decoded record, parsed JSON)
 * works, and fields are read by dotted path (`actor.id`, `resource.type`, `attributes.<key>`).
 */
export interface AlertEvent {
  event_id: string;
  tenant_id: string;
  /** Event time: a Date, epoch ms or µs (number or bigint), or an ISO-8601 string. */
  occurred_at: unknown;
  [field: string]: unknown;
}

/**
 * Reads a field by dotted path. `attributes.<key>` takes the rest of the path as one map key,
 * so attribute names may themselves contain dots (`attributes.retention.days`).
 * Returns undefined when any step is missing.
 */
export function getField(event: Readonly<Record<string, unknown>>, path: string): unknown {
  if (path.startsWith('attributes.')) {
    const attrs = event.attributes;
    if (attrs instanceof Map) return attrs.get(path.slice(11));
    return attrs && typeof attrs === 'object' ? (attrs as Record<string, unknown>)[path.slice(11)] : undefined;
  }
  let cur: unknown = event;
  for (const part of path.split('.')) {
    if (cur === null || cur === undefined || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** Field value as the string filters and group keys compare; undefined for missing or null. */
export function fieldString(event: Readonly<Record<string, unknown>>, path: string): string | undefined {
  const v = path === 'occurred_at' ? eventTimeMs(event as AlertEvent) : getField(event, path);
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  if (v instanceof Date) return v.toISOString();
  return undefined;
}

/** Epoch µs above this are read as microseconds (1e14 ms is the year 5138). */
const MICROS_THRESHOLD = 1e14;

/**
 * occurred_at in epoch milliseconds (fractional when the source had µs), or NaN when it is
 * missing or unreadable. Numbers above 1e14 are microseconds (the Avro timestamp-micros long).
 */
export function eventTimeMs(event: { occurred_at?: unknown }): number {
  const v = event.occurred_at;
  if (v instanceof Date) return v.getTime();
  if (typeof v === 'bigint') return Number(v) / 1000;
  if (typeof v === 'number') return Math.abs(v) >= MICROS_THRESHOLD ? v / 1000 : v;
  if (typeof v === 'string') {
    if (/^-?\d+$/.test(v)) return eventTimeMs({ occurred_at: Number(v) });
    return Date.parse(v);
  }
  return Number.NaN;
}
