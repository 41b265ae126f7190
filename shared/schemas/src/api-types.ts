/**
 * The query API's answer types that the API writes and the console reads: declared here, a
 * package both may import (the console cannot import @auditstream/api, which depends on it).
 * The console imports types only (`import type`), so its browser bundle takes nothing from this
 * package at run time; the one value here, MASK_REASONS, is for the API's schema.
 */

/** One event as the API answers it (services/api schemas/events.ts eventSchema). */
export interface ApiEvent {
  event_id: string;
  tenant_id: string;
  occurred_at: string;
  actor: { id: string; type: string; name: string | null; session_id: string | null; ip: string | null; user_agent: string | null };
  action: string;
  category: string;
  outcome: string;
  reason: string | null;
  service: string;
  host: string | null;
  region: string | null;
  resource: { type: string; id: string; name: string | null } | null;
  request_id: string | null;
  trace_id: string | null;
  severity: string;
  attributes: Record<string, string>;
  enrichment: ApiEventEnrichment;
  /**
   * The values of this answer that are not the stored value in clear (docs/field-encryption.md):
   * the path (`actor.ip`, `attributes.email`, …) and why. Empty when every value is shown as stored.
   */
  masked: ApiMaskedField[];
  /** Its place in its partition's chain: only GET /v1/events/{id} answers it. */
  integrity?: ApiEventIntegrity;
}

/**
 * Why a value is withheld, a closed set (the OpenAPI enum of MaskedField.reason):
 * - `no_pii_permission`: encrypted personal data and the caller lacks the PII permission (the mask);
 * - `no_master_key`: encrypted, and this API has no master key, so nobody sees it (the mask);
 * - `erased`: the subject's key was destroyed (the erased marker, for everyone);
 * - `unreadable`: the ciphertext does not authenticate for this row (the unreadable marker).
 */
export const MASK_REASONS = ['no_pii_permission', 'no_master_key', 'erased', 'unreadable'] as const;
export type MaskReason = (typeof MASK_REASONS)[number];

/** One withheld value of an event answer. */
export interface ApiMaskedField {
  path: string;
  reason: MaskReason;
}

export type ApiEventEnrichment = { geo_country: string; geo_city: string; ua_browser: string; ua_os: string; ua_device: string };

export type ApiEventIntegrity = {
  chain_seq: string;
  prev_hash: string;
  hash: string;
  kafka_topic: string;
  kafka_partition: number;
  kafka_offset: string;
  received_at: string;
  ingested_at: string;
};

/** One source of GET /v1/health/pipeline: whether it could be read, and why not. */
export interface PipelineHealthSource {
  reachable: boolean;
  /** Why it could not be read (null when reachable). */
  error: string | null;
}

/** GET /v1/health/pipeline (services/api pipeline-health.ts). */
export interface PipelineHealth {
  checked_at: string;
  ingest_lag: PipelineHealthSource & { source: 'kafka'; topic: string; group: string; total: number | null; partitions: { partition: number; lag: number }[] };
  ingest: PipelineHealthSource & {
    url: string;
    received_events_total: number | null;
    inserted_events_total: number | null;
    dead_lettered_total: number | null;
    dead_lettered_by_class: Record<string, number>;
  };
  alerting: PipelineHealthSource & {
    url: string;
    delivery_failures_total: number | null;
    delivery_failures_by_sink: Record<string, number>;
    deliveries_by_result: Record<string, number>;
    queue_depth: number | null;
  };
}

/** One alert of GET /v1/alerts. */
export interface ApiAlert {
  alert_id: string;
  tenant_id: string;
  rule_id: string;
  severity: string;
  status: string;
  title: string;
  details: Record<string, unknown>;
  event_ids: string[];
  fired_at: string;
  updated_at: string;
}

/** One partition's latest checkpoint, GET /v1/integrity/checkpoints. */
export interface PartitionCheckpoint {
  topic: string;
  partition: number;
  last_offset: string;
  chain_seq: string;
  chain_head: string;
  created_at: string;
  key_id: string;
  checkpoints: number;
}
