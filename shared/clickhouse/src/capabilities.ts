import { AuditstreamError } from '@auditstream/core';

/**
 * What the connected server can do. THE one place that maps a server version to feature
 * switches: DDL rendering, row mapping, the SQL builder and retention all read these, never
 * the version string.
 *
 * Thresholds are the first release where the feature works without an experimental setting
 * (conservative: a server just below a threshold gets the legacy path, which works everywhere).
 */
export interface Capabilities {
  version: string;
  major: number;
  minor: number;
  /** Map(String, String) columns (attributes). Else parallel attr_keys/attr_values arrays. */
  map: boolean;
  /** DateTime64(6, 'UTC'). Else occurred_at DateTime + occurred_at_us UInt32. */
  datetime64: boolean;
  /** LowCardinality(String) without allow_experimental_low_cardinality_type. */
  lowCardinality: boolean;
  /** Column CODEC(...) clauses. */
  codecs: boolean;
  /** Table TTL expressions (per-tenant retention by row). Else partition drops by `retention apply`. */
  ttl: boolean;
  /** Data-skipping indexes (bloom_filter) without allow_experimental_data_skipping_indices. Else lookup tables fed by materialized views. */
  skipIndexes: boolean;
  /** Server-side query parameters `{name:Type}` over HTTP (`param_name=`). Else quoteString(). */
  queryParams: boolean;
  /** CREATE USER / ROLE / GRANT (SQL-driven access control). Else users.xml profiles. */
  sqlUsers: boolean;
  /** Projections. */
  projections: boolean;
}

export type CapabilitySwitch = Exclude<keyof Capabilities, 'version' | 'major' | 'minor'>;

/** [major, minor] from which each switch is on. */
export const CAPABILITY_THRESHOLDS: Readonly<Record<CapabilitySwitch, readonly [number, number]>> = Object.freeze({
  datetime64: [20, 1],
  lowCardinality: [19, 9],
  codecs: [20, 1],
  ttl: [20, 1],
  skipIndexes: [20, 3],
  queryParams: [20, 1],
  sqlUsers: [20, 5],
  map: [22, 1],
  projections: [22, 8],
});

export function parseVersion(version: string): { major: number; minor: number } {
  const m = /^(\d+)\.(\d+)/.exec(version.trim());
  if (!m) throw new AuditstreamError('CLICKHOUSE_QUERY', `cannot parse the ClickHouse version "${version.slice(0, 40)}"`, { field: 'version()' });
  return { major: Number(m[1]), minor: Number(m[2]) };
}

export function capabilitiesFor(version: string): Capabilities {
  const { major, minor } = parseVersion(version);
  const atLeast = ([ma, mi]: readonly [number, number]) => major > ma || (major === ma && minor >= mi);
  const switches = Object.fromEntries(Object.entries(CAPABILITY_THRESHOLDS).map(([k, v]) => [k, atLeast(v)])) as Record<CapabilitySwitch, boolean>;
  return Object.freeze({ version: version.trim(), major, minor, ...switches });
}

/**
 * The table layout rendered for a server. Two layouts only, so each is fully tested:
 * `modern` (Map + DateTime64, tested on chDB) and `legacy` (arrays + DateTime/µs, tested on 18.16).
 */
export type Layout = 'modern' | 'legacy';
export function layoutFor(caps: Capabilities): Layout {
  return caps.map && caps.datetime64 ? 'modern' : 'legacy';
}

/** Anything that can run `SELECT version()`. */
export interface VersionSource {
  queryRows<T>(sql: string): Promise<T[]>;
}

export async function detectCapabilities(client: VersionSource): Promise<Capabilities> {
  const rows = await client.queryRows<{ v: string }>('SELECT version() AS v');
  const v = rows[0]?.v;
  if (typeof v !== 'string') throw new AuditstreamError('CLICKHOUSE_QUERY', 'SELECT version() returned no row', { field: 'version()' });
  return capabilitiesFor(v);
}
