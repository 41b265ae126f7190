import type { AuditEvent } from '@auditstream/schemas';
import type { IngestMetrics } from '../../metrics.js';
import type { GeoLookup } from './geo.js';
import type { RedactConfig } from './redact.js';
import type { SeverityRuleConfig } from './severity.js';

/** The ingest config keys the enrichment steps read (shared/config/src/sections/ingest.ts). */
export interface EnrichConfig {
  readonly geo_enabled: boolean;
  readonly user_agent_enabled: boolean;
  readonly severity_enabled: boolean;
  readonly severity_rules: readonly SeverityRuleConfig[];
  readonly redact_enabled: boolean;
  readonly redact_emails: boolean;
  readonly redact_bearer_tokens: boolean;
  readonly redact_card_numbers: boolean;
  readonly redact_patterns: RedactConfig['patterns'];
  readonly redact_fields: RedactConfig['fields'];
  readonly redact_drop_attribute_keys: readonly string[];
  readonly redact_mask_attribute_keys: readonly string[];
}

export interface EnrichContext {
  cfg: EnrichConfig;
  metrics: Pick<IngestMetrics, 'redactedFields'>;
  /** Injected lookups (tests, or a geo database other than geoip-lite's). */
  deps: { geo?: GeoLookup | undefined };
}

/**
 * One step over one event: writes its columns into `out` (each starts as '') and may change the
 * event in place. Returns false when it found nothing or failed; a throw counts the same. Either
 * way the event goes on: enrichment never fails an event.
 */
export type EnrichFn<C extends string> = (event: AuditEvent, out: Record<C, string>) => boolean | undefined;

/**
 * An enrichment step as the ordered list (index.ts) sees it: the `stage` label of
 * auditstream_ingest_enrichment_failures_total, the columns it fills (stored beside the event),
 * and a factory that returns the step for this config, or undefined when it is switched off.
 */
export interface EnrichStep<C extends string = string> {
  stage: string;
  columns: readonly C[];
  create(ctx: EnrichContext): EnrichFn<C> | undefined;
}

export function defineEnrichStep<const C extends string = never>(step: EnrichStep<C>): EnrichStep<C> {
  return step;
}
