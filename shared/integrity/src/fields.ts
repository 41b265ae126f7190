import type { StoredEvent } from '@auditstream/clickhouse';
import type { ChainEntryFields } from './chain.js';

/**
 * The chain's view of a stored row, from the storage module's layout-independent StoredEvent
 * (so the legacy and modern layouts hash identically). received_at keeps whole seconds: the
 * precision of the legacy DateTime column.
 */
export function chainFieldsFromStored(s: StoredEvent, prevHash: string, chainSeq: string): ChainEntryFields {
  const e = s.event;
  const m = s.meta;
  const attrs: Record<string, string> = {};
  for (const k of Object.keys(e.attributes).sort()) attrs[k] = e.attributes[k] as string;
  return {
    tenant_id: e.tenant_id,
    event_id: e.event_id.toLowerCase(),
    occurred_at_us: BigInt(e.occurred_at).toString(),
    action: e.action,
    category: e.category,
    outcome: e.outcome,
    reason: e.reason ?? '',
    actor_id: e.actor.id,
    actor_type: e.actor.type,
    actor_name: e.actor.name ?? '',
    actor_session_id: e.actor.session_id ?? '',
    actor_ip: e.actor.ip ?? '',
    actor_user_agent: e.actor.user_agent ?? '',
    service: e.service,
    host: e.host ?? '',
    region: e.region ?? '',
    resource_type: e.resource?.type ?? '',
    resource_id: e.resource?.id ?? '',
    resource_name: e.resource?.name ?? '',
    request_id: e.request_id ?? '',
    trace_id: e.trace_id ?? '',
    severity: e.severity ?? 'info',
    attributes: attrs,
    received_at_s: Math.floor(m.received_at.getTime() / 1000),
    kafka_topic: m.kafka_topic,
    kafka_partition: m.kafka_partition,
    kafka_offset: m.kafka_offset,
    geo_country: m.geo_country,
    geo_city: m.geo_city,
    ua_browser: m.ua_browser,
    ua_os: m.ua_os,
    ua_device: m.ua_device,
    chain_seq: chainSeq,
    prev_hash: prevHash,
  };
}
