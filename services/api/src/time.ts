import { MAX_US, MIN_US } from '@auditstream/schemas';
import { badParameter, type ParameterError } from './problem.js';

export { MAX_US, MIN_US, microsToIso } from '@auditstream/schemas';

/**
 * Timestamps at the API boundary: ISO 8601 / RFC 3339 with a zone (`Z` or `±hh:mm`) and up to
 * 9 fraction digits (beyond microseconds truncated). Inside, time is integer microseconds since
 * the epoch (bigint), the storage precision.
 */
export const ISO_PATTERN = '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(?:[.,]\\d{1,9})?(?:Z|z|[+ -]\\d{2}:?\\d{2})$';
// A space stands for `+` in the zone: an unencoded `+` in a query string decodes to a space.
const ISO_RE = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:[.,](\d{1,9}))?(Z|z|[+ -]\d{2}:?\d{2})$/;

/** Parses an ISO timestamp to µs; throws a 400 problem naming `parameter`. */
export function parseIsoMicros(value: string, parameter: string, where: ParameterError['in'] = 'query'): bigint {
  const m = ISO_RE.exec(value);
  if (!m) throw badParameter(parameter, 'must be an ISO 8601 timestamp with a zone, e.g. 2024-05-01T12:00:00Z', where);
  const [, date, time, frac = '', zone = 'Z'] = m;
  const base = Date.parse(`${date}T${time}Z`);
  // Date.parse rolls 2024-02-30 over to March: reject dates and times that do not exist.
  if (Number.isNaN(base) || new Date(base).toISOString().slice(0, 19) !== `${date}T${time}`)
    throw badParameter(parameter, 'is not a valid date and time', where);
  let offsetMin = 0;
  if (zone !== 'Z' && zone !== 'z') {
    const z = zone.replace(':', '');
    const h = Number(z.slice(1, 3));
    const mm = Number(z.slice(3, 5));
    if (h > 23 || mm > 59) throw badParameter(parameter, 'has an invalid zone offset', where);
    offsetMin = (z[0] === '-' ? -1 : 1) * (h * 60 + mm); // '+' or ' '
  }
  const us = (BigInt(base) - BigInt(offsetMin) * 60_000n) * 1000n + BigInt(frac.slice(0, 6).padEnd(6, '0'));
  if (us < MIN_US || us >= MAX_US) throw badParameter(parameter, 'must be between 1970-01-01 and 2106-02-07', where);
  return us;
}

export interface TimeRange {
  from: bigint;
  to: bigint;
}

/** `from` and `to` (both required), `to` after `from`, span at most `maxSpanS` seconds; errors say where they were (query or body). */
export function parseRange(from: string, to: string, maxSpanS: number, where: ParameterError['in'] = 'query'): TimeRange {
  const f = parseIsoMicros(from, 'from', where);
  const t = parseIsoMicros(to, 'to', where);
  if (t <= f) throw badParameter('to', 'must be after from', where);
  if (t - f > BigInt(maxSpanS) * 1_000_000n) throw badParameter('to', `the range from..to may span at most ${maxSpanS} seconds`, where);
  return { from: f, to: t };
}
