import type { AuditEventInput, IngestMeta } from '@auditstream/clickhouse';

/** The event and ingest metadata whose chain entries the pin tests hold fixed (chain-pin, entry-v2). */
export const PINNED_EVENT: AuditEventInput = {
  event_id: '0190A2B3-C4D5-7E6F-8A9B-0C1D2E3F4A5B',
  tenant_id: 'acme',
  occurred_at: 1_735_689_600_123_456,
  actor: { id: 'u-42', type: 'user', name: 'Zoë "quoted" \\ back', session_id: null, ip: '203.0.113.7', user_agent: 'Mozilla/5.0' },
  action: 'auth.login',
  category: 'authentication',
  outcome: 'failure',
  reason: 'bad password\n',
  service: 'sso',
  host: null,
  region: 'eu-west-1',
  resource: { type: 'account', id: 'a-1', name: null },
  request_id: 'req-1',
  trace_id: null,
  severity: null,
  attributes: { zeta: 'last', alpha: 'first', é: '✓' },
};
export const PINNED_META: IngestMeta = {
  received_at: 1_735_689_601_999,
  ingested_at: 1_735_689_602_000,
  kafka_topic: 'audit.events',
  kafka_partition: 3,
  kafka_offset: 123_456_789n,
  geo_country: 'NL',
  geo_city: 'Amsterdam',
  ua_browser: 'Firefox',
  ua_os: 'Linux',
  ua_device: 'desktop',
  severity: 'medium',
};
