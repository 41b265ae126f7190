import { AuditstreamError } from '@auditstream/core';

/**
 * `occurred_at` is a `long` with logicalType timestamp-micros: microseconds since the
 * Unix epoch, UTC. In JS it is a plain integer number (exact until year 2255).
 * The SDK accepts any of these and converts with toMicros().
 */
export type TimestampInput = Date | string | number | bigint;

const ISO_RE = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:[.,](\d{1,9}))?(Z|[+-]\d{2}:?\d{2})$/i;
const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * Converts a timestamp to microseconds since the epoch:
 * - Date: millisecond precision;
 * - string: ISO 8601 with a zone (Z or ±hh:mm) and up to 9 fraction digits (beyond 6 truncated);
 * - number or bigint: already microseconds (must be an integer).
 * Throws AuditstreamError TIMESTAMP_INVALID naming `field`.
 */
export function toMicros(value: TimestampInput, field = 'occurred_at'): number {
  switch (typeof value) {
    case 'number':
      if (Number.isSafeInteger(value)) return value;
      throw invalid(field, 'must be an integer number of microseconds since the epoch');
    case 'bigint':
      if (value <= MAX_SAFE_BIG && value >= -MAX_SAFE_BIG) return Number(value);
      throw invalid(field, 'is out of range');
    case 'string':
      return parseIsoMicros(value, field);
    default:
      if (value instanceof Date) {
        const ms = value.getTime();
        if (Number.isNaN(ms)) throw invalid(field, 'is an invalid Date');
        return ms * 1000;
      }
      throw invalid(field, 'must be a Date, an ISO 8601 string or microseconds (number or bigint)');
  }
}

function parseIsoMicros(value: string, field: string): number {
  const m = ISO_RE.exec(value);
  if (!m) throw invalid(field, 'must be an ISO 8601 timestamp with a zone, e.g. 2024-05-01T12:00:00.123456Z');
  const base = m[1] as string;
  const zone = (m[3] as string).toUpperCase();
  const ms = Date.parse(`${base}${zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone}`);
  // Date.parse rolls 2024-02-30 over to March: reject dates that do not exist.
  if (Number.isNaN(ms) || new Date(Date.parse(`${base}Z`)).toISOString().slice(0, 19) !== base) throw invalid(field, 'is not a valid date and time');
  const frac = m[2] ? Number((m[2] as string).slice(0, 6).padEnd(6, '0')) : 0;
  return ms * 1000 + frac;
}

function invalid(field: string, what: string): AuditstreamError {
  return new AuditstreamError('TIMESTAMP_INVALID', `${field} ${what}`, { field });
}

/** Microseconds since the epoch → Date (millisecond precision). */
export function microsToDate(us: number): Date {
  return new Date(Math.floor(us / 1000));
}

/**
 * The storable range of a timestamp, in microseconds: ClickHouse DateTime (UInt32 seconds) holds
 * 1970-01-01 .. 2106-02-07 (MAX_US excluded), on both table layouts.
 */
export const MIN_US = 0n;
export const MAX_US = 4_294_967_295n * 1_000_000n;

// One-entry cache of the `YYYY-MM-DDThh:mm:ss` prefix: exports and verification print millions of
// sorted times, most sharing their second with the previous one.
let cachedSecond = Number.NaN;
let cachedPrefix = '';

/**
 * Microseconds since the epoch → ISO 8601 UTC with 6 fraction digits, e.g. 2024-05-01T12:00:00.123456Z.
 * Throws RangeError beyond what a Date can hold (±8.64e21 µs).
 */
export function microsToIso(us: bigint | number): string {
  const v = typeof us === 'bigint' ? us : BigInt(us);
  const sec = v / 1_000_000n - (v < 0n && v % 1_000_000n !== 0n ? 1n : 0n);
  const frac = Number(v - sec * 1_000_000n);
  const s = Number(sec);
  if (s !== cachedSecond) {
    cachedPrefix = new Date(s * 1000).toISOString().slice(0, 19);
    cachedSecond = s;
  }
  return `${cachedPrefix}.${String(frac).padStart(6, '0')}Z`;
}

/** Current wall-clock time in microseconds since the epoch (millisecond resolution). */
export function nowMicros(): number {
  return Date.now() * 1000;
}
