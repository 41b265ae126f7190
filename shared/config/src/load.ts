import { AuditstreamError } from '@auditstream/core';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { readConfigFile } from './files.js';
import { schemaAt } from './schema-walk.js';

export const ENV_PREFIX = 'AUDITSTREAM_';

export interface LoadOptions {
  /** YAML or JSON file; missing keys fall back to defaults. */
  file?: string | undefined;
  /** Defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Values that win over the file and the environment (CLI flags). */
  overrides?: Record<string, unknown>;
}

export type DeepReadonly<T> = T extends (infer R)[]
  ? readonly DeepReadonly<R>[]
  : T extends RegExp
    ? T
    : T extends object
      ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
      : T;

/**
 * Parses config once: file, then environment (`AUDITSTREAM_<SECTION>__<KEY>`, double
 * underscore between levels), then overrides. Fails fast naming the key, and returns
 * a deep-frozen object so nothing changes it behind a component's back.
 */
export function loadConfig<S extends z.ZodType>(schema: S, options: LoadOptions = {}): DeepReadonly<z.infer<S>> {
  const raw: Record<string, unknown> = options.file ? parseConfigFile(options.file) : {};
  applyEnv(raw, schema, options.env ?? process.env);
  for (const [key, value] of Object.entries(options.overrides ?? {})) {
    if (value !== undefined) setPath(raw, key.split('.'), value);
  }
  return parseOrThrow(schema, raw, []);
}

/**
 * One section parsed on its own (defaults filled, cross-field rules checked), e.g. for a test:
 * `parseSection(apiSection, 'api', { port: 0 })`. Errors name the full key, like loadConfig's.
 */
export function parseSection<S extends z.ZodType>(schema: S, name: string, value: unknown): DeepReadonly<z.infer<S>> {
  return parseOrThrow(schema, value, [name]);
}

function parseOrThrow<S extends z.ZodType>(schema: S, raw: unknown, prefix: string[]): DeepReadonly<z.infer<S>> {
  const result = schema.safeParse(raw);
  if (!result.success) {
    const keyOf = (path: PropertyKey[]) => [...prefix, ...path.map(String)].join('.') || '(root)';
    const issue = result.error.issues[0];
    const key = issue ? keyOf(issue.path) : keyOf([]);
    const more = result.error.issues.length > 1 ? ` (and ${result.error.issues.length - 1} more)` : '';
    throw new AuditstreamError('CONFIG_INVALID', `config key "${key}": ${issue?.message ?? 'invalid'}${more}`, {
      field: key,
      details: { issues: result.error.issues.map((i) => ({ key: keyOf(i.path), message: i.message })) },
    });
  }
  return deepFreeze(result.data) as DeepReadonly<z.infer<S>>;
}

function parseConfigFile(file: string): Record<string, unknown> {
  const text = readConfigFile(file, 'config file', 'utf8');
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (cause) {
    throw new AuditstreamError('CONFIG_INVALID', `config file ${file} is not valid YAML or JSON: ${yamlErrorSummary(cause)}`, { field: 'config' });
  }
  if (parsed == null) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new AuditstreamError('CONFIG_INVALID', `config file ${file} must hold a mapping of sections`, { field: 'config' });
  }
  return parsed as Record<string, unknown>;
}

/**
 * The parser's reason and position only: its message quotes the offending source line, which may
 * hold a secret (and so does the error object, which is therefore not kept as the cause).
 */
export function yamlErrorSummary(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const reason = (message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '').replace(/:$/, '');
  const pos = (err as { linePos?: { line: number; col: number }[] }).linePos?.[0];
  return pos ? `${reason} at line ${pos.line}, column ${pos.col}` : reason;
}

function applyEnv(raw: Record<string, unknown>, schema: z.ZodType, env: NodeJS.ProcessEnv): void {
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || value === undefined) continue;
    const rest = name.slice(ENV_PREFIX.length);
    if (!rest.includes('__')) continue; // AUDITSTREAM_HOME and friends are not config keys
    const path = rest.split('__').map((p) => p.toLowerCase());
    const target = schemaAt(schema, path);
    if (!target) {
      throw new AuditstreamError('CONFIG_INVALID', `environment variable ${name} names no config key (${path.join('.')})`, { field: path.join('.') });
    }
    setPath(raw, path, coerce(value, target.def.type));
  }
}

function coerce(value: string, type: string): unknown {
  switch (type) {
    case 'number':
    case 'int':
      return value.trim() === '' ? value : Number(value);
    case 'boolean':
      if (/^(true|1|yes|on)$/i.test(value)) return true;
      if (/^(false|0|no|off)$/i.test(value)) return false;
      return value;
    case 'array':
      if (value.trim().startsWith('[')) return tryJson(value);
      return value === '' ? [] : value.split(',').map((v) => v.trim());
    case 'object':
    case 'record':
      return tryJson(value);
    default:
      return value;
  }
}

function tryJson(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

function setPath(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let cur = obj;
  for (let i = 0; i < path.length - 1; i++) {
    const key = path[i] as string;
    const next = cur[key];
    if (!next || typeof next !== 'object' || Array.isArray(next)) cur[key] = {};
    cur = cur[key] as Record<string, unknown>;
  }
  cur[path[path.length - 1] as string] = value;
}

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
