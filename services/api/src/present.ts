import type { StoredEvent } from '@auditstream/clickhouse';
import type { ApiEvent, ApiEventIntegrity, ApiMaskedField } from '@auditstream/schemas';
import { microsToIso } from './time.js';

export type { ApiEvent };

/** What toApiEvent presents of a stored row: the event and its enrichment (no chain or Kafka fields). */
export type PresentedRow = Pick<StoredEvent, 'event'> & { meta: Pick<StoredEvent['meta'], 'geo_country' | 'geo_city' | 'ua_browser' | 'ua_os' | 'ua_device'> };

/**
 * The API's event object (schemas/events.ts eventSchema) from a stored row, after reveal();
 * `masked` is what reveal() answered for it (the values not shown in clear).
 */
export function toApiEvent(s: PresentedRow, masked: readonly ApiMaskedField[] = []): ApiEvent {
  const e = s.event;
  return {
    event_id: e.event_id,
    tenant_id: e.tenant_id,
    occurred_at: microsToIso(BigInt(e.occurred_at)),
    actor: {
      id: e.actor.id,
      type: e.actor.type,
      name: e.actor.name ?? null,
      session_id: e.actor.session_id ?? null,
      ip: e.actor.ip ?? null,
      user_agent: e.actor.user_agent ?? null,
    },
    action: e.action,
    category: e.category,
    outcome: e.outcome,
    reason: e.reason ?? null,
    service: e.service,
    host: e.host ?? null,
    region: e.region ?? null,
    resource: e.resource ? { type: e.resource.type, id: e.resource.id, name: e.resource.name ?? null } : null,
    request_id: e.request_id ?? null,
    trace_id: e.trace_id ?? null,
    severity: e.severity ?? 'info',
    attributes: e.attributes,
    enrichment: {
      geo_country: s.meta.geo_country,
      geo_city: s.meta.geo_city,
      ua_browser: s.meta.ua_browser,
      ua_os: s.meta.ua_os,
      ua_device: s.meta.ua_device,
    },
    masked: [...masked],
  };
}

export function toApiEventWithIntegrity(s: StoredEvent, masked: readonly ApiMaskedField[] = []): ApiEvent & { integrity: ApiEventIntegrity } {
  return {
    ...toApiEvent(s, masked),
    integrity: {
      chain_seq: s.meta.chain_seq,
      prev_hash: s.meta.prev_hash,
      hash: s.meta.hash,
      kafka_topic: s.meta.kafka_topic,
      kafka_partition: s.meta.kafka_partition,
      kafka_offset: s.meta.kafka_offset,
      received_at: s.meta.received_at.toISOString(),
      ingested_at: s.meta.ingested_at.toISOString(),
    },
  };
}

/** CSV columns of an export, in order. */
export const CSV_COLUMNS = [
  'event_id',
  'tenant_id',
  'occurred_at',
  'actor_id',
  'actor_type',
  'actor_name',
  'actor_session_id',
  'actor_ip',
  'actor_user_agent',
  'action',
  'category',
  'outcome',
  'reason',
  'service',
  'host',
  'region',
  'resource_type',
  'resource_id',
  'resource_name',
  'request_id',
  'trace_id',
  'severity',
  'attributes',
  'geo_country',
  'geo_city',
  'ua_browser',
  'ua_os',
  'ua_device',
  'masked',
] as const;

/**
 * One CSV field (RFC 4180): quoted when it holds a comma, quote, CR or LF, or starts or ends
 * with a space. A field starting with = + - @ TAB or CR is prefixed with ' so spreadsheet
 * programs do not evaluate it as a formula (OWASP CSV injection).
 */
export function csvField(value: string | null): string {
  if (value === null || value === '') return '';
  let v = value;
  if (/^[=+\-@\t\r]/.test(v)) v = `'${v}`;
  if (/[",\r\n]/.test(v) || /^\s|\s$/.test(v)) return `"${v.replace(/"/g, '""')}"`;
  return v;
}

/**
 * The CSV `masked` column: the withheld values as a JSON object path → reason (like the
 * attributes column), empty when every value is shown as stored.
 */
export function maskedColumn(masked: readonly ApiMaskedField[]): string {
  return masked.length ? JSON.stringify(Object.fromEntries(masked.map((m) => [m.path, m.reason]))) : '';
}

export function csvHeader(): string {
  return `${CSV_COLUMNS.join(',')}\r\n`;
}

export function csvRow(e: ApiEvent): string {
  const values: (string | null)[] = [
    e.event_id,
    e.tenant_id,
    e.occurred_at,
    e.actor.id,
    e.actor.type,
    e.actor.name,
    e.actor.session_id,
    e.actor.ip,
    e.actor.user_agent,
    e.action,
    e.category,
    e.outcome,
    e.reason,
    e.service,
    e.host,
    e.region,
    e.resource?.type ?? null,
    e.resource?.id ?? null,
    e.resource?.name ?? null,
    e.request_id,
    e.trace_id,
    e.severity,
    Object.keys(e.attributes).length ? JSON.stringify(e.attributes) : '',
    e.enrichment.geo_country,
    e.enrichment.geo_city,
    e.enrichment.ua_browser,
    e.enrichment.ua_os,
    e.enrichment.ua_device,
    maskedColumn(e.masked),
  ];
  return `${values.map(csvField).join(',')}\r\n`;
}
