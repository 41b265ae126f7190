import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { AuditstreamError } from '@auditstream/core';
import { parseDocument } from 'yaml';
import { SEVERITIES, type Severity } from '../alert.js';
import { buildAbsence } from './absence.js';
import type { BuildContext, RuleTypeParts } from './build.js';
import { buildDistinct } from './distinct.js';
import { buildEventLoss } from './event-loss.js';
import { compileFilter, localClock, matchAll } from './filters.js';
import { buildMatch } from './match.js';
import { buildNewValue } from './new-value.js';
import { buildSequence } from './sequence.js';
import { expectMap, fieldPath, isMap, join, list, onlyKeys, posNumber, type Raw, reqStr, SpecError, str } from './spec-error.js';
import { compileSuppress, parseMinSources } from './suppress.js';
import { buildThreshold } from './threshold.js';
import { RULE_TYPES, type Rule, type RuleSet, type RuleType } from './types.js';

/**
 * The rules file (YAML):
 *
 *   version: 1
 *   defaults: { timezone: Europe/Berlin, severity: medium }
 *   rules:
 *     - id: brute_force                 # [a-z][a-z0-9_]*, unique; part of every alert id
 *       name: Brute-force login attempts
 *       type: threshold                 # match | threshold | distinct | sequence | new_value | absence | event_loss
 *       severity: high                  # info | low | medium | high | critical
 *       filter: { all: [ ... ] }        # see filters.ts
 *       group_by: [actor.id]            # tenant_id is always the first group field
 *       threshold: { count: 6, window_s: 60 }   # the block named like the type
 *       cooldown_s: 60                  # optional; defaults to the window
 *       suppress: { actors: [...], ips: [10.0.0.0/8] }   # optional allowlist (suppress.ts)
 *       min_sources: { field: actor.ip, count: 3 }       # optional; threshold and sequence
 *       summary: "{count} failed logins for {group.actor.id}"
 *       enabled: true
 *
 * Every problem is reported as `rule "<id>": <field path> <problem>`.
 */
export interface ParseOptions {
  /** Zone for time_of_day filters when neither the filter nor the file's defaults set one. */
  timezone?: string;
  /** new_value max_entries when the rule sets none. */
  newValueMaxEntries?: number;
  /** Named in error messages (the file path). */
  source?: string;
}

const RULE_KEYS = [
  'id',
  'name',
  'description',
  'type',
  'severity',
  'enabled',
  'filter',
  'group_by',
  'summary',
  'cooldown_s',
  'suppress',
  'min_sources',
  ...RULE_TYPES,
] as const;
const ID_RE = /^[a-z][a-z0-9_]{0,63}$/;

export function parseRules(text: string, options: ParseOptions = {}): RuleSet {
  const source = options.source ?? 'rules file';
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0] as { message: string; linePos?: Array<{ line: number; col: number }> };
    const where = e.linePos?.[0] ? ` at line ${e.linePos[0].line}` : '';
    const what = (e.message.split('\n')[0] as string).replace(/ at line \d+, column \d+:?$/, '');
    throw new AuditstreamError('RULES_INVALID', `${source}: not valid YAML${where}: ${what}`, { field: 'rules' });
  }
  const root: unknown = doc.toJS({ maxAliasCount: 100 });
  const errors: string[] = [];
  const fail = (msg: string, field: string): never => {
    throw new AuditstreamError('RULES_INVALID', `${source}: ${msg}`, { field, details: { errors: [msg] } });
  };
  if (!isMap(root)) return fail('must be a mapping with `version` and `rules`', 'rules');
  try {
    onlyKeys(root, ['version', 'defaults', 'rules'], '');
  } catch (err) {
    fail((err as SpecError).message, 'rules');
  }
  if (root.version !== 1) fail('version must be 1', 'version');
  let timezone = options.timezone ?? 'UTC';
  let defaultSeverity: Severity = 'medium';
  if (root.defaults !== undefined) {
    try {
      const d = expectMap(root.defaults, 'defaults');
      onlyKeys(d, ['timezone', 'severity'], 'defaults');
      if (d.timezone !== undefined) {
        timezone = reqStr(d.timezone, 'defaults.timezone');
        localClock(timezone, 'defaults.timezone');
      }
      if (d.severity !== undefined) defaultSeverity = severity(d.severity, 'defaults.severity');
    } catch (err) {
      fail((err as SpecError).message, 'defaults');
    }
  }
  let rawRules: unknown[] = [];
  try {
    rawRules = list(root.rules, 'rules');
  } catch (err) {
    fail((err as SpecError).message, 'rules');
  }
  const rules: Rule[] = [];
  const ids = new Set<string>();
  rawRules.forEach((raw, i) => {
    const label = isMap(raw) && typeof raw.id === 'string' && raw.id ? `rule "${raw.id}"` : `rules[${i}]`;
    try {
      const rule = parseRule(raw, { timezone, defaultSeverity, newValueMaxEntries: options.newValueMaxEntries ?? 100_000 });
      if (ids.has(rule.id)) throw new SpecError('id', 'is used by another rule (ids must be unique)');
      ids.add(rule.id);
      if (rule.enabled) rules.push(rule);
    } catch (err) {
      if (err instanceof SpecError) errors.push(`${label}: ${err.message}`);
      else throw err;
    }
  });
  if (errors.length > 0) {
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more: ${errors.slice(1).join('; ')})` : '';
    throw new AuditstreamError('RULES_INVALID', `${source}: ${errors[0]}${more}`, { field: 'rules', details: { errors } });
  }
  const fingerprint = createHash('sha256')
    .update(rules.map((r) => r.fingerprint).join(','))
    .digest('hex')
    .slice(0, 16);
  return { rules, fingerprint, source };
}

export function loadRulesFile(path: string, options: Omit<ParseOptions, 'source'> = {}): RuleSet {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new AuditstreamError('RULES_UNREADABLE', `cannot read rules file ${path}`, { cause, field: 'alerting.rules_file' });
  }
  return parseRules(text, { ...options, source: path });
}

type CompiledRule = Rule & { enabled: boolean };

function parseRule(raw: unknown, ctx: { timezone: string; defaultSeverity: Severity; newValueMaxEntries: number }): CompiledRule {
  const r = expectMap(raw, '(rule)');
  onlyKeys(r, RULE_KEYS, '');
  const id = reqStr(r.id, 'id', { pattern: ID_RE, patternText: 'lowercase letters, digits and _ (starting with a letter, at most 64)' });
  const type = reqStr(r.type, 'type') as RuleType;
  if (!RULE_TYPES.includes(type)) throw new SpecError('type', `must be one of ${RULE_TYPES.join(', ')}`);
  for (const other of RULE_TYPES) {
    if (other !== type && r[other] !== undefined) throw new SpecError(other, `is set but the rule's type is ${type}`);
  }
  const name = str(r.name, 'name', { optional: true }) ?? id;
  const description = str(r.description, 'description', { optional: true }) ?? '';
  const sev = r.severity === undefined ? ctx.defaultSeverity : severity(r.severity, 'severity');
  const enabled = r.enabled === undefined ? true : r.enabled;
  if (typeof enabled !== 'boolean') throw new SpecError('enabled', 'must be true or false');
  const filter = r.filter === undefined ? matchAll : compileFilter(r.filter, 'filter', ctx);
  const groupBy = r.group_by === undefined ? [] : list(r.group_by, 'group_by').map((g, i) => fieldPath(g, join('group_by', i)));
  if (groupBy.includes('tenant_id')) throw new SpecError('group_by', 'must not list tenant_id: it is always the first group field');
  if (new Set(groupBy).size !== groupBy.length) throw new SpecError('group_by', 'lists a field twice');
  const allowlisted = r.suppress === undefined ? undefined : compileSuppress(r.suppress, 'suppress');
  const minSources = r.min_sources === undefined ? undefined : parseMinSources(r.min_sources, 'min_sources');
  if (minSources && type !== 'threshold' && type !== 'sequence') throw new SpecError('min_sources', 'applies to threshold and sequence rules only');
  const bctx: BuildContext = { timezone: ctx.timezone, group_by: groupBy, ...(minSources ? { min_sources: minSources } : {}) };
  const block = r[type] as Raw | undefined;
  let parts: RuleTypeParts;
  switch (type) {
    case 'match':
      parts = buildMatch(block === undefined ? undefined : expectMap(block, 'match'), 'match');
      break;
    case 'threshold':
      parts = buildThreshold(required(block, type), type, minSources);
      break;
    case 'distinct':
      parts = buildDistinct(required(block, type), type);
      break;
    case 'sequence':
      parts = buildSequence(required(block, type), type, bctx);
      break;
    case 'new_value':
      parts = buildNewValue(required(block, type), type, { defaultMaxEntries: ctx.newValueMaxEntries });
      break;
    case 'absence':
      parts = buildAbsence(required(block, type), type, bctx);
      break;
    case 'event_loss':
      if (r.filter !== undefined || r.suppress !== undefined)
        throw new SpecError(r.filter !== undefined ? 'filter' : 'suppress', 'does not apply to event_loss (it watches every record)');
      parts = buildEventLoss(block, type, bctx);
      break;
  }
  const cooldownMs = r.cooldown_s === undefined ? parts.cooldown_ms : posNumber(r.cooldown_s, 'cooldown_s') * 1000;
  const summary = str(r.summary, 'summary', { optional: true }) ?? parts.default_summary;
  const fingerprint = createHash('sha256')
    .update(JSON.stringify({ r, tz: ctx.timezone, sev: ctx.defaultSeverity }))
    .digest('hex')
    .slice(0, 16);
  return {
    id,
    name,
    description,
    severity: sev,
    type,
    enabled,
    filter,
    ...(allowlisted ? { allowlisted } : {}),
    group_by: groupBy,
    summary,
    cooldown_ms: cooldownMs,
    lookback_ms: parts.lookback_ms,
    fingerprint,
    createState: parts.createState,
    ...(parts.stream ? { stream: true } : {}),
    ...(parts.streamKey ? { streamKey: parts.streamKey } : {}),
  };
}

function required(block: unknown, type: string): unknown {
  if (block === undefined) throw new SpecError(type, `is required for a ${type} rule`);
  return block;
}

function severity(v: unknown, path: string): Severity {
  if (typeof v !== 'string' || !SEVERITIES.includes(v as Severity)) throw new SpecError(path, `must be one of ${SEVERITIES.join(', ')}`);
  return v as Severity;
}
