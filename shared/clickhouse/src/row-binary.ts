import { AuditstreamError } from '@auditstream/core';
import { parseClickHouseTime } from './rows.js';

/**
 * RowBinary: ClickHouse's native row format, for the events INSERT. The server reads it without
 * parsing text (no JSON, no key per value), and the body is about a third of the JSONEachRow
 * text. Each column's encoder is compiled once from its declared type (schema.ts), and rows
 * are written straight into one growing buffer per chunk.
 *
 * Values are what toRow builds: strings, numbers, decimal text for UInt64, the Enum8 symbol,
 * arrays and (modern layout) a map and DateTime64 text. A column absent from a row is written
 * as its type's default ('' and 0), as JSONEachRow fills it. A value of the wrong type throws
 * CLICKHOUSE_DATA naming the column, before any byte of the chunk is sent.
 */
export interface RowBinaryColumn {
  name: string;
  type: string;
}

/** Writes rows[start, end) and returns their bytes (a buffer of their own: chunks may be in flight together). */
export type RowBinaryEncoder = (rows: readonly Record<string, unknown>[], start: number, end: number) => Buffer;

/**
 * RowBinary's primitives over one growing buffer (the encoder's per chunk, the hash chain's
 * format 2 entries). `buf[0, pos)` holds what was written.
 */
export class RowBinaryWriter {
  buf: Buffer;
  pos = 0;

  constructor(initialBytes = 1 << 16) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  varint(n: number): void {
    this.ensure(10);
    while (n >= 0x80) {
      this.buf[this.pos++] = (n & 0x7f) | 0x80;
      n = Math.floor(n / 128);
    }
    this.buf[this.pos++] = n;
  }

  string(s: string): void {
    const n = s.length;
    // ASCII below 128 characters (nearly every value): the bytes are the char codes, the length one byte.
    if (n < 128) {
      this.ensure(1 + n);
      const buf = this.buf;
      const at = this.pos + 1;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[at + i] = c;
      }
      if (i === n) {
        buf[this.pos] = n;
        this.pos = at + n;
        return;
      }
    }
    const bytes = Buffer.byteLength(s, 'utf8');
    this.varint(bytes);
    this.ensure(bytes);
    this.pos += this.buf.write(s, this.pos, bytes, 'utf8');
  }

  u32(n: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(n, this.pos);
    this.pos += 4;
  }

  /** An integer below 2^53 as 8 little-endian bytes. */
  u64(n: number): void {
    this.ensure(8);
    const lo = n % 4294967296;
    this.buf.writeUInt32LE(lo, this.pos);
    this.buf.writeUInt32LE((n - lo) / 4294967296, this.pos + 4);
    this.pos += 8;
  }

  /** A UInt64 (0 ≤ n < 2^64) as 8 little-endian bytes. */
  u64Big(n: bigint): void {
    this.ensure(8);
    this.buf.writeBigUInt64LE(n, this.pos);
    this.pos += 8;
  }
}

type Out = RowBinaryWriter;
type Write = (out: Out, v: unknown) => void;

function bad(column: string, what: string): never {
  throw new AuditstreamError('CLICKHOUSE_DATA', `column ${column} ${what}`, { field: column });
}

const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) {
  HEX[i.toString(16).charCodeAt(0)] = i;
  HEX[i.toString(16).toUpperCase().charCodeAt(0)] = i;
}
const UUID_DIGITS = [0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 14, 15, 16, 17, 19, 20, 21, 22, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35];
const UINT64_MAX = 2n ** 64n - 1n;

function uintWriter(column: string, bytes: 1 | 2 | 4): Write {
  const max = 2 ** (8 * bytes) - 1;
  return (out, v) => {
    const n = v === undefined ? 0 : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > max) bad(column, `must be a UInt${8 * bytes}`);
    out.ensure(bytes);
    if (bytes === 1) out.buf[out.pos] = n;
    else if (bytes === 2) out.buf.writeUInt16LE(n, out.pos);
    else out.buf.writeUInt32LE(n, out.pos);
    out.pos += bytes;
  };
}

function uint64Writer(column: string): Write {
  return (out, v) => {
    if (v === undefined) return out.u64(0);
    if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return out.u64(v);
    if (typeof v === 'string' && v.length <= 15 && /^\d+$/.test(v)) return out.u64(Number(v));
    let b: bigint;
    try {
      b = typeof v === 'bigint' ? v : typeof v === 'string' && /^\d+$/.test(v) ? BigInt(v) : -1n;
    } catch {
      b = -1n;
    }
    if (b < 0n || b > UINT64_MAX) bad(column, 'must be a UInt64');
    out.u64Big(b);
  };
}

function stringWriter(column: string): Write {
  return (out, v) => {
    if (typeof v === 'string') out.string(v);
    else if (v === undefined) out.string('');
    else bad(column, 'must be a string');
  };
}

function uuidWriter(column: string): Write {
  return (out, v) => {
    if (typeof v !== 'string' || v.length !== 36) bad(column, 'must be a UUID');
    out.ensure(16);
    // Two UInt64, each little-endian: the first 8 bytes of the UUID reversed, then the last 8 reversed.
    for (let half = 0; half < 2; half++)
      for (let j = 0; j < 8; j++) {
        const d = 16 * half + 2 * j;
        const hi = HEX[v.charCodeAt(UUID_DIGITS[d] as number)] ?? -1;
        const lo = HEX[v.charCodeAt(UUID_DIGITS[d + 1] as number)] ?? -1;
        if (hi < 0 || lo < 0) bad(column, 'must be a UUID');
        out.buf[out.pos + 8 * half + 7 - j] = (hi << 4) | lo;
      }
    out.pos += 16;
  };
}

function enum8Writer(column: string, type: string): Write {
  const values = new Map<string, number>();
  for (const m of type.matchAll(/'([^']*)'\s*=\s*(-?\d+)/g)) values.set(m[1] as string, Number(m[2]));
  return (out, v) => {
    const n = typeof v === 'string' ? values.get(v) : undefined;
    if (n === undefined) bad(column, 'is not one of its enum symbols');
    out.ensure(1);
    out.buf.writeInt8(n, out.pos);
    out.pos += 1;
  };
}

function dateTimeWriter(column: string): Write {
  return (out, v) => {
    const n = v === undefined ? 0 : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 4294967295) bad(column, 'must be whole seconds between 1970 and 2106');
    out.u32(n);
  };
}

/** DateTime64(P), P ≤ 6: Int64 ticks of 10^-P s, from the text toRow writes ('YYYY-MM-DD hh:mm:ss.ffffff', UTC). */
function dateTime64Writer(column: string, precision: number): Write {
  if (precision > 6) throw new AuditstreamError('CLICKHOUSE_SCHEMA', `column ${column}: RowBinary encodes DateTime64 up to microseconds`, { field: column });
  const perTick = 10n ** BigInt(6 - precision);
  return (out, v) => {
    let us = -1n;
    if (typeof v === 'string')
      try {
        us = parseClickHouseTime(v);
      } catch {}
    if (us < 0n) bad(column, 'must be a date and time from 1970 (YYYY-MM-DD hh:mm:ss.f)');
    out.u64(Number(us / perTick));
  };
}

function arrayWriter(column: string, item: Write): Write {
  return (out, v) => {
    const a = v === undefined ? [] : v;
    if (!Array.isArray(a)) bad(column, 'must be an array');
    out.varint(a.length);
    for (const x of a) item(out, x);
  };
}

function mapWriter(column: string, key: Write, value: Write): Write {
  return (out, v) => {
    const o = v === undefined ? {} : v;
    if (o === null || typeof o !== 'object' || Array.isArray(o)) bad(column, 'must be a map');
    const keys = Object.keys(o);
    out.varint(keys.length);
    for (const k of keys) {
      key(out, k);
      value(out, (o as Record<string, unknown>)[k]);
    }
  };
}

/** The writer for one ClickHouse type, as schema.ts declares them. */
export function writerFor(column: string, type: string): Write {
  const t = type.trim();
  if (t === 'String') return stringWriter(column);
  if (t === 'UInt8') return uintWriter(column, 1);
  if (t === 'UInt16') return uintWriter(column, 2);
  if (t === 'UInt32') return uintWriter(column, 4);
  if (t === 'UInt64') return uint64Writer(column);
  if (t === 'UUID') return uuidWriter(column);
  if (/^DateTime(\('[^']*'\))?$/.test(t)) return dateTimeWriter(column);
  let m = /^DateTime64\((\d)(?:, *'[^']*')?\)$/.exec(t);
  if (m) return dateTime64Writer(column, Number(m[1]));
  if (t.startsWith('Enum8(')) return enum8Writer(column, t);
  m = /^LowCardinality\((.*)\)$/.exec(t);
  if (m) return writerFor(column, m[1] as string);
  m = /^Array\((.*)\)$/.exec(t);
  if (m) return arrayWriter(column, writerFor(column, m[1] as string));
  m = /^Map\(([^,]+), *(.*)\)$/.exec(t);
  if (m) return mapWriter(column, writerFor(column, m[1] as string), writerFor(column, m[2] as string));
  throw new AuditstreamError('CLICKHOUSE_SCHEMA', `column ${column}: RowBinary has no encoder for the type ${t}`, { field: column });
}

/** An encoder for rows of these columns, in this order (the INSERT's column list). */
export function rowBinaryEncoder(columns: readonly RowBinaryColumn[]): RowBinaryEncoder {
  const writers = columns.map((c) => writerFor(c.name, c.type));
  const out = new RowBinaryWriter();
  const writeRow = compileRow(columns.map((c) => c.name));
  return (rows, start, end) => {
    out.pos = 0;
    for (let r = start; r < end; r++) writeRow(out, rows[r] as Record<string, unknown>, writers);
    return Buffer.from(out.buf.subarray(0, out.pos));
  };
}

type RowWriter = (out: Out, row: Record<string, unknown>, writers: readonly Write[]) => void;

/**
 * One function per column list that reads each column by its literal name: every read then has
 * one site (and one row shape) of its own, where a loop over the names makes each read a generic
 * keyed lookup. The names are JSON string literals, so nothing of them is code.
 */
function compileRow(names: readonly string[]): RowWriter {
  const body = names.map((n, i) => `w[${i}](out, row[${JSON.stringify(n)}]);`).join('\n');
  return new Function('out', 'row', 'w', body) as RowWriter;
}
