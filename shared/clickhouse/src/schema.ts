/**
 * The audit tables: names, columns and their types per layout. DDL (migrations), row mapping
 * (rows.ts), the SQL builder's identifier allow-list and retention all read these constants.
 */
import { ACTOR_TYPE_SYMBOLS, CATEGORY_SYMBOLS, OUTCOME_SYMBOLS, SEVERITY_SYMBOLS } from '@auditstream/schemas';
import type { Layout } from './capabilities.js';

// The contract's enums, generated from audit_event.avsc: an Enum8 column holds exactly these.
export const ACTOR_TYPES = ACTOR_TYPE_SYMBOLS;
export const CATEGORIES = CATEGORY_SYMBOLS;
export const OUTCOMES = OUTCOME_SYMBOLS;
export const SEVERITIES = SEVERITY_SYMBOLS;
export const ALERT_STATUSES = ['firing', 'resolved'] as const;

/** Enum8('a' = 1, 'b' = 2, …): values are the contract's symbols, numbered from 1 in contract order. */
export function enum8(symbols: readonly string[]): string {
  return `Enum8(${symbols.map((s, i) => `'${s}' = ${i + 1}`).join(', ')})`;
}

export interface ColumnSpec {
  name: string;
  /** Type on the legacy layout (ClickHouse 18.16 and up); `null` = column absent there. */
  legacy: string | null;
  /** Type on the modern layout; `null` = column absent there. */
  modern: string | null;
  /** CODEC clause used when caps.codecs. */
  codec?: string;
  comment: string;
  /** The migration that added the column (absent: 001_events). Applied migrations render without later columns. */
  since?: string;
}

const S = 'String';
const LC = (legacyType: string) => ({ legacy: legacyType, modern: 'LowCardinality(String)' });

/** audit.events, in column order. Every field of the event contract is a typed column. */
export const EVENT_COLUMNS: readonly ColumnSpec[] = [
  // event contract
  { name: 'tenant_id', legacy: S, modern: S, comment: 'tenant; first sorting key column' },
  { name: 'occurred_at', legacy: "DateTime('UTC')", modern: "DateTime64(6, 'UTC')", comment: 'when it happened (legacy: whole seconds, see occurred_at_us)' },
  { name: 'occurred_at_us', legacy: 'UInt32', modern: null, comment: 'legacy only: microseconds within occurred_at second (0..999999)' },
  { name: 'event_id', legacy: 'UUID', modern: 'UUID', comment: 'UUIDv7 from the producer; the dedup key' },
  { name: 'action', ...LC(S), comment: 'dotted action, e.g. auth.login' },
  { name: 'category', legacy: enum8(CATEGORIES), modern: enum8(CATEGORIES), comment: 'contract enum' },
  { name: 'outcome', legacy: enum8(OUTCOMES), modern: enum8(OUTCOMES), comment: 'contract enum' },
  { name: 'reason', legacy: S, modern: S, comment: "'' when absent" },
  { name: 'actor_id', legacy: S, modern: S, comment: 'actor.id' },
  { name: 'actor_type', legacy: enum8(ACTOR_TYPES), modern: enum8(ACTOR_TYPES), comment: 'actor.type' },
  { name: 'actor_name', legacy: S, modern: S, comment: "actor.name, '' when absent" },
  { name: 'actor_session_id', legacy: S, modern: S, comment: "actor.session_id, '' when absent" },
  { name: 'actor_ip', legacy: S, modern: S, comment: "actor.ip as sent, '' when absent" },
  { name: 'actor_user_agent', legacy: S, modern: S, codec: 'CODEC(ZSTD(3))', comment: "actor.user_agent, '' when absent" },
  { name: 'service', ...LC(S), comment: 'emitting service' },
  { name: 'host', legacy: S, modern: S, comment: "'' when absent" },
  { name: 'region', ...LC(S), comment: "'' when absent" },
  { name: 'resource_type', ...LC(S), comment: "resource.type, '' when no resource" },
  { name: 'resource_id', legacy: S, modern: S, comment: "resource.id, '' when no resource" },
  { name: 'resource_name', legacy: S, modern: S, comment: "resource.name, '' when absent" },
  { name: 'request_id', legacy: S, modern: S, comment: "'' when absent" },
  { name: 'trace_id', legacy: S, modern: S, comment: "'' when absent" },
  { name: 'severity', legacy: enum8(SEVERITIES), modern: enum8(SEVERITIES), comment: "event severity, else the one ingest derived, else 'info'" },
  { name: 'attributes', legacy: null, modern: 'Map(String, String)', codec: 'CODEC(ZSTD(3))', comment: 'modern only: attributes map' },
  { name: 'attr_keys', legacy: 'Array(String)', modern: null, comment: 'legacy only: attribute keys, sorted' },
  { name: 'attr_values', legacy: 'Array(String)', modern: null, comment: 'legacy only: attribute values, aligned with attr_keys' },
  // ingest
  { name: 'received_at', legacy: "DateTime('UTC')", modern: "DateTime64(3, 'UTC')", comment: 'Kafka message timestamp' },
  { name: 'ingested_at', legacy: "DateTime('UTC')", modern: "DateTime64(3, 'UTC')", comment: 'when ingest wrote the row; ReplacingMergeTree version' },
  {
    name: 'received_at_ms',
    legacy: 'UInt16',
    modern: null,
    since: '006_events_source_key',
    comment: 'legacy only: milliseconds within received_at second (0..999)',
  },
  {
    name: 'ingested_at_ms',
    legacy: 'UInt16',
    modern: null,
    since: '006_events_source_key',
    comment: 'legacy only: milliseconds within ingested_at second (0..999)',
  },
  { name: 'kafka_topic', ...LC(S), comment: 'source topic' },
  { name: 'kafka_partition', legacy: 'UInt32', modern: 'UInt32', comment: 'source partition' },
  { name: 'kafka_offset', legacy: 'UInt64', modern: 'UInt64', codec: 'CODEC(Delta, ZSTD(1))', comment: 'source offset' },
  // enrichment
  { name: 'geo_country', ...LC(S), comment: "ISO country of actor_ip, '' when unknown" },
  { name: 'geo_city', legacy: S, modern: S, comment: "'' when unknown" },
  { name: 'ua_browser', ...LC(S), comment: 'from actor_user_agent' },
  { name: 'ua_os', ...LC(S), comment: 'from actor_user_agent' },
  { name: 'ua_device', ...LC(S), comment: 'from actor_user_agent' },
  // integrity
  { name: 'chain_seq', legacy: 'UInt64', modern: 'UInt64', codec: 'CODEC(Delta, ZSTD(1))', comment: 'position in the per-partition hash chain' },
  { name: 'prev_hash', legacy: S, modern: S, comment: 'hex SHA-256 of the previous chain entry (64 chars)' },
  { name: 'hash', legacy: S, modern: S, comment: 'hex SHA-256 of this entry (64 chars)' },
  // loss detection (contract v2): not chained, see docs/integrity.md
  {
    name: 'producer_id',
    legacy: S,
    modern: 'LowCardinality(String)',
    since: '009_events_producer',
    comment: "producer instance that published the event, '' when it did not number its events",
  },
  {
    name: 'producer_seq',
    legacy: 'UInt64',
    modern: 'UInt64',
    since: '009_events_producer',
    comment: "the event's number in its producer's stream (0 when producer_id is '')",
  },
];

export function columnsFor(layout: Layout): ColumnSpec[] {
  return EVENT_COLUMNS.filter((c) => (layout === 'modern' ? c.modern : c.legacy) !== null);
}

/** Column names written by insertRows for a layout, in table order. */
export function eventColumnNames(layout: Layout): string[] {
  return columnsFor(layout).map((c) => c.name);
}

/** The same columns with their types on that layout (the RowBinary INSERT's column list). */
export function eventColumnTypes(layout: Layout): { name: string; type: string }[] {
  return columnsFor(layout).map((c) => ({ name: c.name, type: (layout === 'modern' ? c.modern : c.legacy) as string }));
}

/**
 * Sorting key of audit.events (since migration 006_events_source_key).
 * - tenant_id first: every query is tenant-scoped.
 * - toDate(occurred_at) next: time-range queries read only the days asked for; a day (not the
 *   full timestamp) so the columns after it still cluster rows inside a tenant-day.
 * - action, actor_id: the next most common filters and group-bys; also good compression.
 * - event_id, then where the row came from (kafka_topic, kafka_partition, kafka_offset): a stored
 *   row is identified by its Kafka message. A re-delivered copy of a message has the same key
 *   (every column before the source is taken from the event itself), so ReplacingMergeTree
 *   collapses the copies on merge; two different messages never share a key, so a message that
 *   reuses another's event_id can never merge it away (that would erase chain entries).
 * Queries show one row per event_id by the rule in queries.ts (FIRST_STORED_RULE).
 */
export const EVENTS_ORDER_BY = '(tenant_id, toDate(occurred_at), action, actor_id, event_id, kafka_topic, kafka_partition, kafka_offset)';
/** The key migration 001 created (rows merged by event content alone); 006 swaps the table for one with EVENTS_ORDER_BY. */
export const EVENTS_ORDER_BY_001 = '(tenant_id, toDate(occurred_at), action, actor_id, event_id)';
export const EVENTS_PARTITION_BY = 'toYYYYMM(occurred_at)';

/** Lookup tables fed by materialized views (servers without skip indexes). */
export interface LookupSpec {
  table: string;
  view: string;
  /** The column looked up, after tenant_id. */
  key: readonly string[];
  where: string;
}
export const LOOKUPS = {
  actor: { table: 'events_by_actor', view: 'events_by_actor_mv', key: ['actor_id'], where: "actor_id != ''" },
  resource: { table: 'events_by_resource', view: 'events_by_resource_mv', key: ['resource_id', 'resource_type'], where: "resource_id != ''" },
  ip: { table: 'events_by_ip', view: 'events_by_ip_mv', key: ['actor_ip'], where: "actor_ip != ''" },
} as const satisfies Record<string, LookupSpec>;

/** Rows per (tenant, hour, action, actor), a materialized view over events (migration 011): a search hint, never an answer. */
export const ROLLUP = { table: 'events_hourly', view: 'events_hourly_mv' } as const;

/** Every stored row's event id with its key prefix (action, actor_id), sorted by id (migration 011): which granules of events hold an id. */
export const BY_ID = { table: 'events_by_id', view: 'events_by_id_mv' } as const;

/** Rows per event id and the ids stored more than once (migration 012, duplicates.ts): exact counts from events_hourly. */
export const ROW_COUNTS = { rows: 'event_id_rows', view: 'event_id_rows_mv', dups: 'event_id_dups' } as const;

/**
 * The event rows that have a resource, without the chain columns, sorted by resource (migration 014):
 * what a search page or export of one resource reads. resource_id before resource_type, so a filter
 * on the id alone reads one contiguous range too; then time; then the row's Kafka message, the end of
 * the key as in events (EVENTS_ORDER_BY), so re-delivered copies collapse and different messages never do.
 */
export const RESOURCE_ROWS = {
  table: 'events_by_resource_rows',
  view: 'events_by_resource_rows_mv',
  without: ['chain_seq', 'prev_hash', 'hash'],
} as const;
export const RESOURCE_ROWS_ORDER_BY = '(tenant_id, resource_id, resource_type, occurred_at, kafka_topic, kafka_partition, kafka_offset)';

/** Every table auditstream creates. */
export const TABLES = [
  'schema_migrations',
  'events',
  'events_by_actor',
  'events_by_resource',
  'events_by_ip',
  'events_hourly',
  'events_by_id',
  'event_id_rows',
  'event_id_dups',
  'events_by_resource_rows',
  'checkpoints',
  'dlq_decisions',
  'alerts',
  'api_keys',
  'legal_holds',
  'subject_keys',
  'subject_erasures',
  'api_key_permissions',
  'saved_searches',
  'merkle_subtrees',
] as const;
export type TableName = (typeof TABLES)[number];

/** Tables retention may drop partitions of, and the time column their partition key is built on. */
export const RETENTION_TABLES = {
  events: {
    timeColumn: 'occurred_at',
    tenantColumn: 'tenant_id',
    followers: [
      'events_by_actor',
      'events_by_resource',
      'events_by_ip',
      'events_hourly',
      'events_by_id',
      'events_by_resource_rows',
      'event_id_rows',
      'event_id_dups',
    ],
    // Copies of event content with the same time and tenant columns: on servers with TTL they get events' TTL.
    ttlFollowers: ['events_by_resource_rows'],
  },
  alerts: { timeColumn: 'fired_at', tenantColumn: 'tenant_id', followers: [], ttlFollowers: [] },
  dlq_decisions: { timeColumn: 'decided_at', tenantColumn: null, followers: [], ttlFollowers: [] },
} as const;
export type RetentionTable = keyof typeof RETENTION_TABLES;

const OTHER_COLUMNS = [
  'id',
  'checksum',
  'applied_at',
  'server_version',
  'layout',
  'statements',
  'description',
  'topic',
  'partition',
  'offset',
  'last_offset',
  'chain_head',
  'created_at',
  'prev_checkpoint_hash',
  'key_id',
  'signature',
  'raw_sha256',
  'decided_at',
  'alert_id',
  'rule_id',
  'status',
  'title',
  'details',
  'event_ids',
  'fired_at',
  'role',
  'tenants',
  'revoked_at',
  'updated_at',
  'released_at',
  'hold_id',
  'subject_id',
  'wrapped_key',
  'master_key_id',
  'created_at_ms',
  'erasure_id',
  'erased_at_ms',
  'key_ids',
  'permission',
  'hour',
  'rows',
  'level',
  'idx',
  'root',
  'written_ms',
  'id_ms',
  'received_ms',
];

/** Identifiers the SQL builder accepts (tables and columns). */
export const ALLOWED_IDENTIFIERS: ReadonlySet<string> = new Set<string>([
  ...TABLES,
  ...EVENT_COLUMNS.map((c) => c.name),
  ...OTHER_COLUMNS,
  ...Object.values(LOOKUPS).map((l) => l.view),
  ROLLUP.view,
  BY_ID.view,
  ROW_COUNTS.view,

  RESOURCE_ROWS.view,
]);
