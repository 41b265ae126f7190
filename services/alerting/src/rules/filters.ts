import { eventTimeMs, fieldString } from '../event.js';
import { expectMap, fieldPath, join, list, onlyKeys, type Raw, reqStr, SpecError, scalar } from './spec-error.js';

/**
 * Filters: compiled once from the rules file into closures; evaluating one never parses or
 * compiles anything (regexes and time-zone formatters are built at compile time).
 *
 *   { all: [f, ...] }   { any: [f, ...] }   { not: f }      (a list is shorthand for all)
 *   { field: actor.id, eq | ne: v, in | not_in: [v...], prefix | suffix | contains: s | [s...],
 *     regex: re, gt | gte | lt | lte: n, exists: bool, ignore_case: bool }
 *     several operators on one field must all hold; values compare as strings, gt/gte/lt/lte
 *     as numbers (a value that is not a number never matches them).
 *   { time_of_day: { start: "HH:MM", end: "HH:MM", days: [mon..sun], timezone: IANA } }
 *     true when occurred_at, in that time zone, is on one of the days within [start, end);
 *     end < start wraps midnight.
 */
export type Filter = (event: Readonly<Record<string, unknown>>) => boolean;

export interface FilterContext {
  /** IANA zone for time_of_day without its own timezone (rules-file defaults, then config). */
  timezone: string;
}

const FIELD_OPS = ['eq', 'ne', 'in', 'not_in', 'prefix', 'suffix', 'contains', 'regex', 'gt', 'gte', 'lt', 'lte', 'exists'] as const;
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;

export const matchAll: Filter = () => true;

export function compileFilter(raw: unknown, path: string, ctx: FilterContext): Filter {
  if (Array.isArray(raw)) return compileAll(raw, path, ctx);
  const obj = expectMap(raw, path);
  const keys = Object.keys(obj);
  if ('all' in obj || 'any' in obj || 'not' in obj) {
    if (keys.length !== 1) throw new SpecError(path, `must hold exactly one of all, any or not (found: ${keys.join(', ')})`);
    if ('all' in obj) return compileAll(list(obj.all, join(path, 'all'), { min: 1 }), join(path, 'all'), ctx);
    if ('any' in obj) {
      const parts = list(obj.any, join(path, 'any'), { min: 1 }).map((f, i) => compileFilter(f, join(join(path, 'any'), i), ctx));
      return (e) => {
        for (const p of parts) if (p(e)) return true;
        return false;
      };
    }
    const inner = compileFilter(obj.not, join(path, 'not'), ctx);
    return (e) => !inner(e);
  }
  if ('time_of_day' in obj) {
    onlyKeys(obj, ['time_of_day'], path);
    return compileTimeOfDay(obj.time_of_day, join(path, 'time_of_day'), ctx);
  }
  if ('field' in obj) return compileField(obj, path);
  throw new SpecError(path, 'must be a condition: all, any, not, time_of_day, or field with an operator');
}

function compileAll(items: unknown[], path: string, ctx: FilterContext): Filter {
  const parts = items.map((f, i) => compileFilter(f, join(path, i), ctx));
  if (parts.length === 1) return parts[0] as Filter;
  return (e) => {
    for (const p of parts) if (!p(e)) return false;
    return true;
  };
}

type Test = (value: string | undefined) => boolean;

function compileField(obj: Raw, path: string): Filter {
  onlyKeys(obj, ['field', 'ignore_case', ...FIELD_OPS], path);
  const field = fieldPath(obj.field, join(path, 'field'));
  const ic = obj.ignore_case === undefined ? false : obj.ignore_case;
  if (typeof ic !== 'boolean') throw new SpecError(join(path, 'ignore_case'), 'must be true or false');
  const norm = ic ? (s: string) => s.toLowerCase() : (s: string) => s;
  const tests: Test[] = [];
  for (const op of FIELD_OPS) {
    if (!(op in obj)) continue;
    const p = join(path, op);
    const v = obj[op];
    switch (op) {
      case 'eq': {
        const want = norm(scalar(v, p));
        tests.push((x) => x !== undefined && norm(x) === want);
        break;
      }
      case 'ne': {
        const want = norm(scalar(v, p));
        tests.push((x) => x === undefined || norm(x) !== want);
        break;
      }
      case 'in':
      case 'not_in': {
        const set = new Set(list(v, p, { min: 1 }).map((x, i) => norm(scalar(x, join(p, i)))));
        tests.push(op === 'in' ? (x) => x !== undefined && set.has(norm(x)) : (x) => x === undefined || !set.has(norm(x)));
        break;
      }
      case 'prefix':
      case 'suffix':
      case 'contains': {
        const items = (Array.isArray(v) ? list(v, p, { min: 1 }) : [v]).map((x, i) => norm(scalar(x, Array.isArray(v) ? join(p, i) : p)));
        const fn =
          op === 'prefix'
            ? (s: string, w: string) => s.startsWith(w)
            : op === 'suffix'
              ? (s: string, w: string) => s.endsWith(w)
              : (s: string, w: string) => s.includes(w);
        tests.push((x) => {
          if (x === undefined) return false;
          const s = norm(x);
          for (const w of items) if (fn(s, w)) return true;
          return false;
        });
        break;
      }
      case 'regex': {
        const src = reqStr(v, p);
        let re: RegExp;
        try {
          re = new RegExp(src, ic ? 'iu' : 'u');
        } catch (err) {
          throw new SpecError(p, `is not a valid regular expression (${(err as Error).message.replace(/^Invalid regular expression: /, '')})`);
        }
        tests.push((x) => x !== undefined && re.test(x));
        break;
      }
      case 'gt':
      case 'gte':
      case 'lt':
      case 'lte': {
        if (typeof v !== 'number' || !Number.isFinite(v)) throw new SpecError(p, 'must be a number');
        const cmp = op === 'gt' ? (n: number) => n > v : op === 'gte' ? (n: number) => n >= v : op === 'lt' ? (n: number) => n < v : (n: number) => n <= v;
        tests.push((x) => {
          if (x === undefined || x.trim() === '') return false;
          const n = Number(x);
          return Number.isFinite(n) && cmp(n);
        });
        break;
      }
      case 'exists': {
        if (typeof v !== 'boolean') throw new SpecError(p, 'must be true or false');
        tests.push(v ? (x) => x !== undefined : (x) => x === undefined);
        break;
      }
    }
  }
  if (tests.length === 0) throw new SpecError(path, `needs an operator for field "${field}" (one of: ${FIELD_OPS.join(', ')})`);
  return (e) => {
    const x = fieldString(e, field);
    for (const t of tests) if (!t(x)) return false;
    return true;
  };
}

const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$/;

function compileTimeOfDay(raw: unknown, path: string, ctx: FilterContext): Filter {
  const obj = expectMap(raw, path);
  onlyKeys(obj, ['start', 'end', 'days', 'timezone'], path);
  const start = minutes(reqStr(obj.start, join(path, 'start'), { pattern: HHMM, patternText: 'a time HH:MM (24 h)' }));
  const end = minutes(reqStr(obj.end, join(path, 'end'), { pattern: HHMM, patternText: 'a time HH:MM (24 h)' }));
  const tz = obj.timezone === undefined ? ctx.timezone : reqStr(obj.timezone, join(path, 'timezone'));
  const days = new Set<number>();
  if (obj.days === undefined) for (let i = 0; i < 7; i++) days.add(i);
  else
    list(obj.days, join(path, 'days'), { min: 1 }).forEach((d, i) => {
      const idx = typeof d === 'string' ? DAYS.indexOf(d.toLowerCase().slice(0, 3) as (typeof DAYS)[number]) : -1;
      if (idx < 0) throw new SpecError(join(join(path, 'days'), i), 'must be a day name (mon, tue, wed, thu, fri, sat, sun)');
      days.add(idx);
    });
  const local = localClock(tz, join(path, 'timezone'));
  return (e) => {
    const t = eventTimeMs(e as { occurred_at?: unknown });
    if (!Number.isFinite(t)) return false;
    const { day, minute } = local(t);
    if (!days.has(day)) return false;
    return start <= end ? minute >= start && minute < end : minute >= start || minute < end;
  };
}

function minutes(hhmm: string): number {
  const m = HHMM.exec(hhmm) as RegExpExecArray;
  return Number(m[1]) * 60 + Number(m[2]);
}

/** Day of week (0 = Sunday) and minute of day of an instant in an IANA zone, via Intl (no dependency). */
export function localClock(timezone: string, path = 'timezone'): (ms: number) => { day: number; minute: number } {
  let fmt: Intl.DateTimeFormat;
  try {
    fmt = new Intl.DateTimeFormat('en-US', { timeZone: timezone, hourCycle: 'h23', weekday: 'short', hour: '2-digit', minute: '2-digit' });
  } catch {
    throw new SpecError(path, 'must be an IANA time zone such as UTC or Europe/Berlin');
  }
  return (ms) => {
    let day = 0;
    let hour = 0;
    let minute = 0;
    for (const part of fmt.formatToParts(ms)) {
      if (part.type === 'weekday') day = DAYS.indexOf(part.value.toLowerCase().slice(0, 3) as (typeof DAYS)[number]);
      else if (part.type === 'hour') hour = Number(part.value) % 24;
      else if (part.type === 'minute') minute = Number(part.value);
    }
    return { day, minute: hour * 60 + minute };
  };
}
