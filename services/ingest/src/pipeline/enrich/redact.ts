import type { AuditEvent } from '@auditstream/schemas';
import { defineEnrichStep } from './step.js';

export type RedactField = 'reason' | 'attributes' | 'actor.name' | 'resource.name';

export interface RedactConfig {
  readonly emails: boolean;
  readonly bearer_tokens: boolean;
  readonly card_numbers: boolean;
  readonly patterns: readonly { readonly name: string; readonly regex: string }[];
  readonly fields: readonly RedactField[];
  readonly drop_attribute_keys: readonly string[];
  readonly mask_attribute_keys: readonly string[];
}

/** What one call changed: rule name → number of fields it changed (for the metric). */
export type RedactionCounts = ReadonlyMap<string, number>;

// Most events have nothing to redact: they all get this one empty map instead of a new one each.
const NOTHING_REDACTED: RedactionCounts = new Map();

interface Rule {
  name: string;
  /** Cheap test that rules the rule out (skips the regex on most strings). */
  maybe: (s: string) => boolean;
  apply: (s: string) => string;
}

// Every built-in pattern starts at a boundary (lookbehind), so a long run of look-alike
// characters is scanned once rather than from every position: linear time, no ReDoS.
const EMAIL = /(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![A-Za-z0-9-])/g;
const BEARER = /\bBearer\s+[A-Za-z0-9\-._~+/]+=*/gi;
const JWT = /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;
const CARD = /(?<![0-9])[0-9](?:[ -]?[0-9]){12,18}(?![0-9])/g;
// The cheap pre-tests, hoisted: a regex literal in a function body is a new RegExp per call.
const MAYBE_BEARER = /bearer|eyJ/i;
const MAYBE_CARD_RUN = /[0-9]{4}/;
const MAYBE_CARD_SPACED = /[0-9][ -][0-9]/;

/** Luhn (mod 10) check over the digits of s. */
export function luhnValid(s: string): boolean {
  let sum = 0;
  let double = false;
  let digits = 0;
  for (let i = s.length - 1; i >= 0; i--) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) continue;
    let d = c - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
    digits++;
  }
  return digits >= 13 && digits <= 19 && sum % 10 === 0;
}

function buildRules(cfg: RedactConfig): Rule[] {
  const rules: Rule[] = [];
  if (cfg.emails) rules.push({ name: 'email', maybe: (s) => s.includes('@'), apply: (s) => s.replace(EMAIL, '[redacted:email]') });
  if (cfg.bearer_tokens)
    rules.push({
      name: 'bearer',
      maybe: (s) => MAYBE_BEARER.test(s),
      apply: (s) => s.replace(BEARER, 'Bearer [redacted:bearer]').replace(JWT, '[redacted:bearer]'),
    });
  if (cfg.card_numbers)
    rules.push({
      name: 'card',
      // A card number has at least 13 digits: shorter text cannot hold one.
      maybe: (s) => s.length >= 13 && (MAYBE_CARD_RUN.test(s) || MAYBE_CARD_SPACED.test(s)),
      apply: (s) => s.replace(CARD, (m) => (luhnValid(m) ? '[redacted:card]' : m)),
    });
  for (const p of cfg.patterns) {
    const re = new RegExp(p.regex, 'g');
    const replacement = `[redacted:${p.name}]`;
    rules.push({ name: p.name, maybe: () => true, apply: (s) => s.replace(re, replacement) });
  }
  return rules;
}

/**
 * Builds the redaction step. It changes the event in place (the decoded event is ours):
 * attribute keys to drop are removed, keys to mask get `[redacted]`, then every pattern
 * runs over the configured fields. Returns, per rule, how many fields it changed.
 */
export function createRedactor(cfg: RedactConfig): (event: AuditEvent) => RedactionCounts {
  const rules = buildRules(cfg);
  const drop = new Set(cfg.drop_attribute_keys.map((k) => k.toLowerCase()));
  const mask = new Set(cfg.mask_attribute_keys.map((k) => k.toLowerCase()));
  const fields = new Set(cfg.fields);

  // The current call's counts, created on its first change.
  let counts: Map<string, number> | undefined;
  const count = (name: string) => {
    counts ??= new Map();
    counts.set(name, (counts.get(name) ?? 0) + 1);
  };

  function scrub(value: string): string {
    let out = value;
    for (const r of rules) {
      if (!r.maybe(out)) continue;
      const next = r.apply(out);
      if (next !== out) {
        count(r.name);
        out = next;
      }
    }
    return out;
  }

  function redactEvent(event: AuditEvent): void {
    const attrs = event.attributes;
    if (attrs && (drop.size > 0 || mask.size > 0)) {
      for (const key of Object.keys(attrs)) {
        const k = key.toLowerCase();
        if (drop.has(k)) {
          delete attrs[key];
          count('drop');
        } else if (mask.has(k) && attrs[key] !== '[redacted]') {
          attrs[key] = '[redacted]';
          count('mask');
        }
      }
    }
    if (rules.length === 0) return;
    if (fields.has('reason') && event.reason) event.reason = scrub(event.reason);
    if (fields.has('actor.name') && event.actor.name) event.actor.name = scrub(event.actor.name);
    if (fields.has('resource.name') && event.resource?.name) event.resource.name = scrub(event.resource.name);
    if (fields.has('attributes') && attrs) {
      for (const key of Object.keys(attrs)) {
        const v = attrs[key];
        if (typeof v === 'string' && v !== '[redacted]') attrs[key] = scrub(v);
      }
    }
  }

  return (event) => {
    counts = undefined;
    redactEvent(event);
    return counts ?? NOTHING_REDACTED;
  };
}

function failClosed(event: AuditEvent): void {
  if (event.reason) event.reason = '[redacted]';
  if (event.actor?.name) event.actor.name = '[redacted]';
  if (event.resource?.name) event.resource.name = '[redacted]';
  for (const k of Object.keys(event.attributes ?? {})) event.attributes[k] = '[redacted]';
}

/** Scrubs the configured fields in place; counts auditstream_ingest_redacted_fields_total{rule}. */
export const redactStep = defineEnrichStep({
  stage: 'redact',
  columns: [],
  create({ cfg, metrics }) {
    if (!cfg.redact_enabled) return undefined;
    const redact = createRedactor({
      emails: cfg.redact_emails,
      bearer_tokens: cfg.redact_bearer_tokens,
      card_numbers: cfg.redact_card_numbers,
      patterns: cfg.redact_patterns,
      fields: cfg.redact_fields,
      drop_attribute_keys: cfg.redact_drop_attribute_keys,
      mask_attribute_keys: cfg.redact_mask_attribute_keys,
    });
    return (event) => {
      try {
        const counts = redact(event);
        if (counts.size > 0) for (const [rule, n] of counts) metrics.redactedFields.inc({ rule }, n);
        return true;
      } catch {
        // Fail closed: text that could not be scrubbed is not stored.
        failClosed(event);
        return false;
      }
    };
  },
});
