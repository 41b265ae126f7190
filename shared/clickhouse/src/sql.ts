import { AuditstreamError } from '@auditstream/core';
import { ALLOWED_IDENTIFIERS } from './schema.js';

/**
 * Safe SQL for every query auditstream sends to ClickHouse.
 *
 *   const q = sql`SELECT count() FROM ${table(db, 'events')} WHERE tenant_id = ${tenant} AND action IN ${actions}`;
 *   const { query, query_params } = render(q, caps);
 *
 * Interpolated values are never spliced as text:
 * - on servers with `caps.queryParams` they become server-side parameters `{p0:String}` sent as
 *   `param_p0=` (the server parses them as data, never as SQL);
 * - on older servers (18.16 has no query parameters) they are inlined as literals built by
 *   quoteString()/literal() below, the ONE escaping function, tested against the real server.
 * Identifiers come only from `ident()` / `table()`, checked against allow-lists; there is no
 * way to interpolate a raw string as SQL except `unsafeRaw()`, which takes constants only.
 */

export type ParamType =
  | 'String'
  | 'UInt8'
  | 'UInt16'
  | 'UInt32'
  | 'UInt64'
  | 'Int64'
  | 'Float64'
  | 'UUID'
  | 'Date'
  | 'DateTime'
  | 'DateTime64'
  | 'Array(String)'
  | 'Array(UInt64)';

export class Param {
  constructor(
    readonly value: unknown,
    readonly type: ParamType,
  ) {}
}

export class Identifier {
  constructor(readonly text: string) {}
}

export class SqlFragment {
  constructor(
    readonly strings: readonly string[],
    readonly values: readonly unknown[],
  ) {}
}

export type Interpolation = Param | Identifier | SqlFragment | string | number | bigint | boolean | Date | readonly string[];

export function sql(strings: TemplateStringsArray, ...values: Interpolation[]): SqlFragment {
  return new SqlFragment([...strings], values);
}

/** A constant SQL snippet (an ORDER BY direction picked from a fixed set, a DDL body). Never user input. */
export function unsafeRaw(text: string): SqlFragment {
  return new SqlFragment([text], []);
}

export function joinSql(parts: readonly SqlFragment[], separator: string): SqlFragment {
  if (parts.length === 0) return unsafeRaw('');
  const strings: string[] = [''];
  const values: unknown[] = [];
  parts.forEach((p, i) => {
    if (i > 0) strings[strings.length - 1] += separator;
    values.push(p);
    strings.push('');
  });
  return new SqlFragment(strings, values);
}

/** Typed parameters, for when the JavaScript type does not say enough. */
export const p = {
  string: (v: string) => new Param(v, 'String'),
  uint8: (v: number) => new Param(checkInt(v, 0, 255), 'UInt8'),
  uint16: (v: number) => new Param(checkInt(v, 0, 65535), 'UInt16'),
  uint32: (v: number) => new Param(checkInt(v, 0, 4294967295), 'UInt32'),
  uint64: (v: number | bigint) => new Param(typeof v === 'bigint' ? v : checkInt(v, 0, Number.MAX_SAFE_INTEGER), 'UInt64'),
  int64: (v: number | bigint) => new Param(typeof v === 'bigint' ? v : checkInt(v, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER), 'Int64'),
  float64: (v: number) => new Param(checkFinite(v), 'Float64'),
  uuid: (v: string) => new Param(checkUuid(v), 'UUID'),
  /** A calendar day, `YYYY-MM-DD` (UTC). */
  date: (v: Date | string) => new Param(typeof v === 'string' ? checkDate(v) : v.toISOString().slice(0, 10), 'Date'),
  /** Second precision, UTC. */
  dateTime: (v: Date) => new Param(v, 'DateTime'),
  /** Microsecond precision, UTC: a Date (ms) or microseconds since the epoch. Needs caps.datetime64. */
  dateTime64: (v: Date | bigint) => new Param(typeof v === 'bigint' ? v : BigInt(v.getTime()) * 1000n, 'DateTime64'),
  strings: (v: readonly string[]) => new Param([...v], 'Array(String)'),
  uint64s: (v: readonly (number | bigint)[]) => new Param([...v], 'Array(UInt64)'),
};

const IDENT_RE = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** A column or table name from the schema's allow-list. */
export function ident(name: string): Identifier {
  if (!ALLOWED_IDENTIFIERS.has(name))
    throw new AuditstreamError('SQL_IDENTIFIER', `identifier "${safeName(name)}" is not in the allow-list`, { field: 'identifier' });
  return new Identifier(`\`${name}\``);
}

/** A database name: from config (validated there too), never from a request. */
export function database(name: string): Identifier {
  if (!IDENT_RE.test(name)) throw new AuditstreamError('SQL_IDENTIFIER', `database name "${safeName(name)}" is not a plain identifier`, { field: 'database' });
  return new Identifier(`\`${name}\``);
}

/** `db`.`table`, the table from the allow-list. */
export function table(db: string, name: string): Identifier {
  return new Identifier(`${database(db).text}.${ident(name).text}`);
}

function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.]/g, '?').slice(0, 64);
}

export interface RenderTarget {
  queryParams: boolean;
}

export interface RenderedSql {
  query: string;
  /** Present only when the server takes parameters. */
  query_params?: Record<string, unknown>;
}

export function render(fragment: SqlFragment | string, target: RenderTarget): RenderedSql {
  if (typeof fragment === 'string') return { query: fragment };
  const params: Record<string, unknown> = {};
  let n = 0;
  const walk = (f: SqlFragment): string => {
    let out = f.strings[0] ?? '';
    f.values.forEach((v, i) => {
      out += piece(v);
      out += f.strings[i + 1] ?? '';
    });
    return out;
  };
  const piece = (v: unknown): string => {
    if (v instanceof SqlFragment) return walk(v);
    if (v instanceof Identifier) return v.text;
    const param = v instanceof Param ? v : infer(v);
    if (target.queryParams) {
      const name = `p${n++}`;
      params[name] = paramValue(param);
      return `{${name}:${serverType(param.type)}}`;
    }
    return literal(param);
  };
  const query = walk(fragment);
  return target.queryParams && n > 0 ? { query, query_params: params } : { query };
}

function infer(v: unknown): Param {
  if (typeof v === 'string') return new Param(v, 'String');
  if (typeof v === 'boolean') return new Param(v ? 1 : 0, 'UInt8');
  if (typeof v === 'bigint') return new Param(v, v < 0n ? 'Int64' : 'UInt64');
  if (typeof v === 'number') {
    if (Number.isInteger(v)) return new Param(checkInt(v, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER), v < 0 ? 'Int64' : 'UInt64');
    return new Param(checkFinite(v), 'Float64');
  }
  if (v instanceof Date) return new Param(v, 'DateTime');
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return new Param(v, 'Array(String)');
  throw new AuditstreamError('SQL_PARAM', `cannot interpolate a value of type ${Array.isArray(v) ? 'mixed array' : typeof v} into SQL`, { field: 'sql' });
}

function serverType(t: ParamType): string {
  if (t === 'DateTime') return "DateTime('UTC')";
  if (t === 'DateTime64') return "DateTime64(6, 'UTC')";
  return t;
}

/** Parameter values in the text form the server parses for `param_<name>` (the client escapes them). */
function paramValue(param: Param): unknown {
  switch (param.type) {
    case 'DateTime':
      return formatDateTime(param.value as Date);
    case 'DateTime64':
      return formatMicros(param.value as bigint);
    case 'String':
      checkWellFormed(param.value as string);
      return param.value;
    case 'Array(String)':
      for (const s of param.value as string[]) checkWellFormed(s);
      return param.value;
    default:
      return param.value;
  }
}

/** An inline SQL literal for old servers: the only place values become SQL text. */
export function literal(param: Param): string {
  const v = param.value;
  switch (param.type) {
    case 'String':
      return quoteString(v as string);
    case 'UUID':
      return `toUUID(${quoteString(v as string)})`;
    case 'Date':
      return `toDate(${quoteString(v as string)})`;
    case 'DateTime':
      return `toDateTime(${Math.floor((v as Date).getTime() / 1000)}, 'UTC')`;
    case 'DateTime64':
      throw new AuditstreamError('SQL_PARAM', 'DateTime64 parameters need a server with DateTime64 (caps.datetime64)', { field: 'sql' });
    case 'Array(String)':
      return `[${(v as string[]).map(quoteString).join(', ')}]`;
    case 'Array(UInt64)':
      return `[${(v as (number | bigint)[]).map((x) => String(typeof x === 'bigint' ? x : checkInt(x, 0, Number.MAX_SAFE_INTEGER))).join(', ')}]`;
    case 'Float64':
      return String(checkFinite(v as number));
    default:
      // Integers: checked when the Param was made; bigint prints as digits.
      if (typeof v !== 'number' && typeof v !== 'bigint') throw new AuditstreamError('SQL_PARAM', `bad ${param.type} parameter`, { field: 'sql' });
      return `to${param.type}(${String(v)})`;
  }
}

const ESCAPES: Record<string, string> = { '\\': '\\\\', "'": "\\'", '\0': '\\0', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f' };

/**
 * A ClickHouse string literal: single quotes, backslash escapes for the backslash, the quote and
 * every ASCII control character (`\xHH` for those without a short form). Everything else, including
 * all non-ASCII Unicode, passes through as UTF-8, which the server reads byte for byte.
 * Strings that are not well-formed UTF-16 (lone surrogates) are rejected: they cannot round-trip.
 */
export function quoteString(s: string): string {
  if (typeof s !== 'string') throw new AuditstreamError('SQL_PARAM', 'quoteString takes a string', { field: 'sql' });
  checkWellFormed(s);
  return `'${s.replace(/[\\'\x00-\x1f\x7f]/g, (c) => ESCAPES[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}'`;
}

function checkWellFormed(s: string): void {
  if (!(s as string & { isWellFormed(): boolean }).isWellFormed())
    throw new AuditstreamError('SQL_PARAM', 'string parameter is not well-formed Unicode (lone surrogate)', { field: 'sql' });
}

function checkInt(v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) throw new AuditstreamError('SQL_PARAM', `integer parameter out of range [${min}, ${max}]`, { field: 'sql' });
  return v;
}

function checkFinite(v: number): number {
  if (!Number.isFinite(v)) throw new AuditstreamError('SQL_PARAM', 'float parameter must be finite', { field: 'sql' });
  return v;
}

const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
function checkUuid(v: string): string {
  if (!UUID_RE.test(v)) throw new AuditstreamError('SQL_PARAM', 'UUID parameter is not a UUID', { field: 'sql' });
  return v.toLowerCase();
}

function checkDate(v: string): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(v)) throw new AuditstreamError('SQL_PARAM', 'date parameter must be YYYY-MM-DD', { field: 'sql' });
  return v;
}

/** `YYYY-MM-DD hh:mm:ss` in UTC, the DateTime text every version parses. */
export function formatDateTime(d: Date): string {
  if (Number.isNaN(d.getTime())) throw new AuditstreamError('SQL_PARAM', 'invalid date', { field: 'sql' });
  return d.toISOString().slice(0, 19).replace('T', ' ');
}

/** `YYYY-MM-DD hh:mm:ss.ffffff` in UTC from microseconds since the epoch. */
export function formatMicros(us: bigint): string {
  const sec = us / 1_000_000n - (us < 0n && us % 1_000_000n !== 0n ? 1n : 0n);
  const frac = us - sec * 1_000_000n;
  return `${formatDateTime(new Date(Number(sec) * 1000))}.${frac.toString().padStart(6, '0')}`;
}
