/**
 * A problem in a rules file, located by a path inside the rule (`threshold.count`,
 * `filter.all[1].regex`). parse.ts adds the rule id, so the message reads
 * `rule "brute_force": threshold.count must be a positive integer`.
 */
export class SpecError extends Error {
  readonly path: string;
  readonly problem: string;
  constructor(path: string, problem: string) {
    super(`${path} ${problem}`);
    this.name = 'SpecError';
    this.path = path;
    this.problem = problem;
  }
}

export type Raw = Record<string, unknown>;

export function isMap(v: unknown): v is Raw {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date);
}

export function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path ? `${path}.${key}` : key;
}

export function expectMap(v: unknown, path: string): Raw {
  if (!isMap(v)) throw new SpecError(path, 'must be a mapping');
  return v;
}

export function onlyKeys(obj: Raw, allowed: readonly string[], path: string): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) throw new SpecError(join(path, k), `is not a known key (expected one of: ${allowed.join(', ')})`);
  }
}

export function str(v: unknown, path: string, opts: { optional?: boolean; pattern?: RegExp; patternText?: string } = {}): string | undefined {
  if (v === undefined || v === null) {
    if (opts.optional) return undefined;
    throw new SpecError(path, 'is required');
  }
  if (typeof v !== 'string' || v.length === 0) throw new SpecError(path, 'must be a non-empty string');
  if (opts.pattern && !opts.pattern.test(v)) throw new SpecError(path, `must be ${opts.patternText ?? `like ${opts.pattern}`}`);
  return v;
}

export function reqStr(v: unknown, path: string, opts: { pattern?: RegExp; patternText?: string } = {}): string {
  return str(v, path, opts) as string;
}

export function posInt(v: unknown, path: string, fallback?: number): number {
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new SpecError(path, 'must be a positive integer');
  return v;
}

export function posNumber(v: unknown, path: string, fallback?: number): number {
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new SpecError(path, 'must be a positive number');
  return v;
}

export function bool(v: unknown, path: string, fallback: boolean): boolean {
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') throw new SpecError(path, 'must be true or false');
  return v;
}

/** A scalar a filter compares with: strings, numbers and booleans compare as their string form. */
export function scalar(v: unknown, path: string): string {
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new SpecError(path, 'must be a string, number or boolean');
}

export function list(v: unknown, path: string, opts: { min?: number } = {}): unknown[] {
  if (!Array.isArray(v)) throw new SpecError(path, 'must be a list');
  if (v.length < (opts.min ?? 0)) throw new SpecError(path, opts.min === 1 ? 'must be a non-empty list' : `must have at least ${opts.min} items`);
  return v;
}

/** A field path: dotted identifiers; `attributes.<key>` takes any non-empty key. */
export const FIELD_RE = /^(attributes\.[^\s]+|[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*)$/;

export function fieldPath(v: unknown, path: string): string {
  return reqStr(v, path, { pattern: FIELD_RE, patternText: 'a field path such as actor.id or attributes.<key>' });
}
