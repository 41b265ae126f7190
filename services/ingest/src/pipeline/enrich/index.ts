import type { AuditEvent } from '@auditstream/schemas';
import type { IngestMetrics } from '../../metrics.js';
import type { Enrichment } from '../../types.js';
import { type GeoLookup, geoipLiteLookup, lookupGeo } from './geo.js';
import { createRedactor, type RedactConfig } from './redact.js';
import { compileSeverityRules, type SeverityRuleConfig } from './severity.js';
import { parseUserAgent } from './useragent.js';

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

export type Enricher = (event: AuditEvent) => Enrichment;

function failClosed(event: AuditEvent): void {
  if (event.reason) event.reason = '[redacted]';
  if (event.actor?.name) event.actor.name = '[redacted]';
  if (event.resource?.name) event.resource.name = '[redacted]';
  for (const k of Object.keys(event.attributes ?? {})) event.attributes[k] = '[redacted]';
}

/**
 * All enrichment steps, each switchable: geo (country, city), user agent (browser, OS,
 * device), severity rules, then redaction (last, so nothing later sees the raw text).
 * Enrichment never fails an event: a step that throws or finds nothing leaves its
 * columns empty and counts auditstream_ingest_enrichment_failures_total{stage}.
 * Every output is a function of the event and the configuration only (deterministic).
 */
export function createEnricher(
  cfg: EnrichConfig,
  metrics: Pick<IngestMetrics, 'enrichmentFailures' | 'redactedFields'>,
  deps: { geo?: GeoLookup } = {},
): Enricher {
  const geo = cfg.geo_enabled ? (deps.geo ?? geoipLiteLookup()) : undefined;
  const severity = cfg.severity_enabled ? compileSeverityRules(cfg.severity_rules) : undefined;
  const redact = cfg.redact_enabled
    ? createRedactor({
        emails: cfg.redact_emails,
        bearer_tokens: cfg.redact_bearer_tokens,
        card_numbers: cfg.redact_card_numbers,
        patterns: cfg.redact_patterns,
        fields: cfg.redact_fields,
        drop_attribute_keys: cfg.redact_drop_attribute_keys,
        mask_attribute_keys: cfg.redact_mask_attribute_keys,
      })
    : undefined;
  const failed = (stage: string) => metrics.enrichmentFailures.inc({ stage });

  return (event) => {
    const out: Enrichment = { geo_country: '', geo_city: '', ua_browser: '', ua_os: '', ua_device: '' };
    const ip = event.actor?.ip;
    if (geo && ip) {
      const r = lookupGeo(geo, ip);
      if (r.ok) {
        out.geo_country = r.geo.country;
        out.geo_city = r.geo.city;
      } else failed('geo');
    }
    const ua = event.actor?.user_agent;
    if (cfg.user_agent_enabled && ua) {
      const r = parseUserAgent(ua);
      if (r) {
        out.ua_browser = r.browser;
        out.ua_os = r.os;
        out.ua_device = r.device;
      } else failed('user_agent');
    }
    if (severity) {
      try {
        event.severity = severity(event);
      } catch {
        failed('severity');
      }
    }
    if (redact) {
      try {
        for (const [rule, n] of redact(event)) metrics.redactedFields.inc({ rule }, n);
      } catch {
        // Fail closed: text that could not be scrubbed is not stored.
        failed('redact');
        failClosed(event);
      }
    }
    return out;
  };
}
