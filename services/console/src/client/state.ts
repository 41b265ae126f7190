/**
 * The search state IS the URL query: every filter of the API by its own name, a quick `range`
 * (relative to now, resolved at each load) or an absolute `from`/`to`, and the page's `cursor`.
 * Back/forward and shared links therefore restore exactly the same search.
 */

declare const __AUDIT_ENUMS__: { actor_type: string[]; category: string[]; outcome: string[]; severity: string[] };
export const ENUMS = __AUDIT_ENUMS__;

/** Text filters of GET /v1/events (docs/api.md "Event filters"), in form order. */
export const TEXT_FILTERS = [
  'q',
  'tenant',
  'actor_id',
  'action',
  'action_prefix',
  'resource_type',
  'resource_id',
  'service',
  'source_ip',
  'session_id',
] as const;
export const ENUM_FILTERS = ['actor_type', 'category', 'outcome', 'severity'] as const;
export const FILTERS = [...TEXT_FILTERS, ...ENUM_FILTERS] as const;

export const QUICK_RANGES: readonly { id: string; label: string; s: number }[] = [
  { id: '15m', label: 'Last 15 minutes', s: 900 },
  { id: '1h', label: 'Last hour', s: 3600 },
  { id: '24h', label: 'Last 24 hours', s: 86_400 },
  { id: '7d', label: 'Last 7 days', s: 7 * 86_400 },
  { id: '30d', label: 'Last 30 days', s: 30 * 86_400 },
];
export const DEFAULT_RANGE = '24h';

/** The time range of a query: absolute from/to win over `range`. */
export function resolveRange(p: URLSearchParams, now = Date.now()): { from: string; to: string } {
  const from = p.get('from');
  const to = p.get('to');
  if (from && to) return { from, to };
  const quick = QUICK_RANGES.find((r) => r.id === (p.get('range') ?? DEFAULT_RANGE)) ?? QUICK_RANGES[2];
  // Rounded to the second: the same range renders the same request twice (cursors compare filters).
  const end = Math.ceil(now / 1000) * 1000;
  return { from: new Date(end - (quick?.s ?? 86_400) * 1000).toISOString(), to: new Date(end).toISOString() };
}

/** The API parameters of the search in `p` (filters and resolved range; no paging). */
export function apiFilters(p: URLSearchParams, now?: number): URLSearchParams {
  const out = new URLSearchParams(resolveRange(p, now));
  for (const f of FILTERS) {
    const v = p.get(f);
    if (v) out.set(f, v);
  }
  return out;
}

/** The URL of the search `p` with `changes` applied (undefined removes); any change but the cursor restarts paging. */
export function withParams(p: URLSearchParams, changes: Record<string, string | undefined>, path = '/console/search'): string {
  const next = new URLSearchParams(p);
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined || v === '') next.delete(k);
    else next.set(k, v);
  }
  if (!('cursor' in changes)) next.delete('cursor');
  const s = next.toString();
  return s ? `${path}?${s}` : path;
}

/** The timeseries interval whose bucket count stays near `target` for this span. */
export function pickInterval(fromIso: string, toIso: string, target = 120): string {
  const span = (Date.parse(toIso) - Date.parse(fromIso)) / 1000;
  const steps: [string, number][] = [
    ['1m', 60],
    ['5m', 300],
    ['15m', 900],
    ['1h', 3600],
    ['6h', 21_600],
    ['1d', 86_400],
  ];
  for (const [id, s] of steps) if (span / s <= target) return id;
  return '1d';
}
