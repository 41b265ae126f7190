import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { badParameter } from './problem.js';

/**
 * Opaque pagination cursors: the keyset position (the last row's time in µs and its id), the
 * sort order, and a digest of the query it belongs to, signed with HMAC-SHA256.
 *
 *   <base64url(JSON payload)>.<base64url(first 16 bytes of the HMAC)>
 *
 * A cursor that was altered, truncated, signed with another key, or replayed with other filters
 * answers 400 naming `cursor`. Cursors carry no row data, so a leaked cursor reveals a timestamp
 * and an id, nothing else. With no configured secret the key is random per process: cursors then
 * do not survive a restart nor move between replicas (configure api.cursor_secret for that).
 */
export interface CursorPosition {
  /** Time of the last row returned, µs since the epoch. */
  t: bigint;
  /** Id of the last row returned (event_id or alert_id). */
  id: string;
}

interface Payload {
  v: 1;
  /** Which listing: events or alerts. */
  k: string;
  o: 'asc' | 'desc';
  t: string;
  id: string;
  /** Digest of the filters and scope the cursor was issued for. */
  f: string;
}

const MAC_BYTES = 16;
const MAX_CURSOR_LENGTH = 1024;
const B64URL_RE = /^[A-Za-z0-9_-]+$/;

export interface CursorCodec {
  encode(kind: string, order: 'asc' | 'desc', queryDigest: string, pos: CursorPosition): string;
  /** Throws a 400 problem on any defect; returns the position otherwise. */
  decode(cursor: string, kind: string, order: 'asc' | 'desc', queryDigest: string): CursorPosition;
}

export function createCursorCodec(secret?: string | Buffer): CursorCodec {
  const key = secret === undefined ? randomBytes(32) : Buffer.from(secret);
  const mac = (data: string) => createHmac('sha256', key).update(data).digest().subarray(0, MAC_BYTES);
  return {
    encode(kind, order, queryDigest, pos) {
      const payload: Payload = { v: 1, k: kind, o: order, t: pos.t.toString(), id: pos.id, f: queryDigest };
      const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
      return `${body}.${mac(body).toString('base64url')}`;
    },
    decode(cursor, kind, order, queryDigest) {
      const invalid = () =>
        badParameter('cursor', 'is not a valid cursor for this query (use the next_cursor of the previous page unchanged, with the same filters)');
      if (typeof cursor !== 'string' || cursor.length > MAX_CURSOR_LENGTH) throw invalid();
      const dot = cursor.indexOf('.');
      if (dot <= 0 || dot !== cursor.lastIndexOf('.')) throw invalid();
      const body = cursor.slice(0, dot);
      const sig = cursor.slice(dot + 1);
      if (!B64URL_RE.test(body) || !B64URL_RE.test(sig)) throw invalid();
      const given = Buffer.from(sig, 'base64url');
      const expected = mac(body);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid();
      let p: Partial<Payload>;
      try {
        p = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Partial<Payload>;
      } catch {
        throw invalid();
      }
      // Signed by us, but checked anyway: a key shared with an older version must not crash us.
      if (!p || p.v !== 1 || p.k !== kind || p.o !== order || p.f !== queryDigest) throw invalid();
      if (typeof p.t !== 'string' || !/^\d{1,20}$/.test(p.t) || typeof p.id !== 'string' || p.id.length === 0 || p.id.length > 200) throw invalid();
      return { t: BigInt(p.t), id: p.id };
    },
  };
}

/** A digest of the query a cursor belongs to: every filter (keys sorted) and the tenant scope. */
export function queryDigest(parts: Record<string, unknown>): string {
  const canonical = JSON.stringify(
    Object.keys(parts)
      .sort()
      .map((k) => [k, parts[k] === undefined ? null : typeof parts[k] === 'bigint' ? String(parts[k]) : parts[k]]),
  );
  return createHash('sha256').update(canonical).digest().subarray(0, 12).toString('base64url');
}
