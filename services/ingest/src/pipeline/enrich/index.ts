import type { AuditEvent } from '@auditstream/schemas';
import type { IngestMetrics } from '../../metrics.js';
import { type GeoLookup, geoStep } from './geo.js';
import { redactStep } from './redact.js';
import { severityStep } from './severity.js';
import type { EnrichConfig, EnrichFn, EnrichStep } from './step.js';
import { userAgentStep } from './useragent.js';

export type { EnrichConfig, EnrichContext, EnrichFn, EnrichStep } from './step.js';
export { defineEnrichStep } from './step.js';

/**
 * The enrichment steps, in the order they run: geo (country, city), user agent (browser, OS,
 * device), severity rules, then redaction (last, so nothing later sees the raw text). A new
 * step is its module plus one line here; the columns it declares become part of `Enrichment`.
 */
export const ENRICH_STEPS = [geoStep, userAgentStep, severityStep, redactStep] as const;

export type EnrichmentColumn = (typeof ENRICH_STEPS)[number]['columns'][number];
/** Enrichment results: empty strings when a step is off, had nothing to look at, or failed. */
export type Enrichment = Record<EnrichmentColumn, string>;
export const ENRICHMENT_COLUMNS: readonly EnrichmentColumn[] = (ENRICH_STEPS as readonly EnrichStep<EnrichmentColumn>[]).flatMap((s) => s.columns);

export type Enricher = (event: AuditEvent) => Enrichment;

/**
 * Runs every step that the config switches on. Enrichment never fails an event: a step that
 * throws or finds nothing leaves its columns empty and counts
 * auditstream_ingest_enrichment_failures_total{stage}. Every output is a function of the event
 * and the configuration only (deterministic).
 */
export function createEnricher(
  cfg: EnrichConfig,
  metrics: Pick<IngestMetrics, 'enrichmentFailures' | 'redactedFields'>,
  deps: { geo?: GeoLookup } = {},
): Enricher {
  const steps: { stage: string; run: EnrichFn<string> }[] = [];
  for (const step of ENRICH_STEPS as readonly EnrichStep[]) {
    const run = step.create({ cfg, metrics, deps });
    if (run) steps.push({ stage: step.stage, run });
  }
  const blank = Object.fromEntries(ENRICHMENT_COLUMNS.map((c) => [c, ''])) as Enrichment;
  const failed = (stage: string) => metrics.enrichmentFailures.inc({ stage });

  return (event) => {
    const out = { ...blank };
    for (const s of steps) {
      try {
        if (s.run(event, out) === false) failed(s.stage);
      } catch {
        failed(s.stage);
      }
    }
    return out;
  };
}
