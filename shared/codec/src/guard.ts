import type avro from 'avsc';

/**
 * A structural pre-check of an Avro body against its writer type, run before avsc decodes
 * it. avsc trusts block counts: a garbage or hostile map/array count of 2^40 makes it loop
 * (synchronously) for hours. This walk bounds every count by the bytes left, checks union
 * and enum indexes and string lengths, and returns where the body ends, so a poison
 * message fails fast with a precise reason instead of hanging a consumer.
 */
export class StructureError extends Error {
  constructor(
    readonly kind: 'truncated' | 'corrupt',
    message: string,
  ) {
    super(message);
  }
}

interface Cursor {
  buf: Uint8Array;
  pos: number;
}
type Checker = (c: Cursor) => void;

const MAX_ZERO_SIZE_ITEMS = 1_000_000;
const EMPTY = new Uint8Array(0);

function truncated(what: string): StructureError {
  return new StructureError('truncated', `payload ends inside ${what}`);
}

function readVarint(c: Cursor, what: string): number {
  // Fast path: one byte (small lengths, indexes, counts).
  if (c.pos < c.buf.length) {
    const b0 = c.buf[c.pos] as number;
    if (b0 < 0x80) {
      c.pos++;
      return b0 & 1 ? -((b0 + 1) >> 1) : b0 >> 1;
    }
  }
  let n = 0;
  let mult = 1;
  for (let i = 0; i < 10; i++) {
    if (c.pos >= c.buf.length) throw truncated(what);
    const b = c.buf[c.pos++] as number;
    n += (b & 0x7f) * mult;
    if ((b & 0x80) === 0) return n % 2 === 1 ? -(n + 1) / 2 : n / 2;
    mult *= 128;
  }
  throw new StructureError('corrupt', `varint longer than 10 bytes in ${what}`);
}

function skip(c: Cursor, n: number, what: string): void {
  if (c.pos + n > c.buf.length) throw truncated(what);
  c.pos += n;
}

function minSize(t: avro.Type, seen = new Set<avro.Type>()): number {
  if (seen.has(t)) return 0;
  seen.add(t);
  const any = t as unknown as { typeName: string; size?: number; fields?: { type: avro.Type }[]; underlyingType?: avro.Type };
  switch (any.typeName) {
    case 'null':
      return 0;
    case 'float':
      return 4;
    case 'double':
      return 8;
    case 'fixed':
      return any.size ?? 0;
    case 'record':
    case 'error':
      return (any.fields ?? []).reduce((s, f) => s + minSize(f.type, seen), 0);
    default:
      if (any.typeName.startsWith('logical:') && any.underlyingType) return minSize(any.underlyingType, seen);
      return 1;
  }
}

/** Builds a checker for one writer type; cache it beside the type. */
export function compileStructureCheck(root: avro.Type): (buf: Uint8Array, pos: number) => number {
  const cache = new Map<avro.Type, Checker>();

  function build(t: avro.Type, path: string): Checker {
    const hit = cache.get(t);
    if (hit) return hit;
    // Placeholder first so recursive types terminate; replaced below.
    let impl: Checker = () => {};
    const ref: Checker = (c) => impl(c);
    cache.set(t, ref);
    const any = t as unknown as {
      typeName: string;
      name?: string;
      size?: number;
      symbols?: string[];
      types?: avro.Type[];
      fields?: { name: string; type: avro.Type }[];
      itemsType?: avro.Type;
      valuesType?: avro.Type;
      underlyingType?: avro.Type;
    };
    const what = path || 'the body';
    switch (any.typeName) {
      case 'null':
        impl = () => {};
        break;
      case 'boolean':
        impl = (c) => {
          if (c.pos >= c.buf.length) throw truncated(what);
          const b = c.buf[c.pos++];
          if (b !== 0 && b !== 1) throw new StructureError('corrupt', `invalid boolean byte in ${what}`);
        };
        break;
      case 'int':
      case 'long':
        impl = (c) => {
          readVarint(c, what);
        };
        break;
      case 'float':
        impl = (c) => skip(c, 4, what);
        break;
      case 'double':
        impl = (c) => skip(c, 8, what);
        break;
      case 'fixed': {
        const size = any.size ?? 0;
        impl = (c) => skip(c, size, what);
        break;
      }
      case 'string':
      case 'bytes':
        impl = lengthPrefixed(what);
        break;
      case 'enum': {
        const n = any.symbols?.length ?? 0;
        impl = (c) => {
          const i = readVarint(c, what);
          if (i < 0 || i >= n) throw new StructureError('corrupt', `enum index ${i} out of range in ${what}`);
        };
        break;
      }
      case 'union:unwrapped':
      case 'union:wrapped': {
        const branches = (any.types ?? []).map((b) => build(b, path));
        impl = (c) => {
          const i = readVarint(c, what);
          const b = branches[i];
          if (!b) throw new StructureError('corrupt', `union branch ${i} out of range in ${what}`);
          b(c);
        };
        break;
      }
      case 'record':
      case 'error': {
        const fields = (any.fields ?? []).map((f) => build(f.type, path ? `${path}.${f.name}` : f.name));
        const n = fields.length;
        impl = (c) => {
          for (let i = 0; i < n; i++) (fields[i] as Checker)(c);
        };
        break;
      }
      case 'array':
      case 'map': {
        const isMap = any.typeName === 'map';
        const itemType = (isMap ? any.valuesType : any.itemsType) as avro.Type;
        const item = build(itemType, `${what}${isMap ? '{}' : '[]'}`);
        const key = isMap ? lengthPrefixed(`${what} key`) : undefined;
        const perItem = (isMap ? 1 : 0) + minSize(itemType);
        impl = (c) => {
          for (;;) {
            let count = readVarint(c, what);
            if (count === 0) return;
            if (count < 0) {
              count = -count;
              readVarint(c, what); // block size in bytes
            }
            const left = c.buf.length - c.pos;
            if (perItem > 0 ? count * perItem > left : count > MAX_ZERO_SIZE_ITEMS) throw truncated(`${what} (block of ${count} items)`);
            for (let i = 0; i < count; i++) {
              key?.(c);
              item(c);
            }
          }
        };
        break;
      }
      default:
        if (any.typeName.startsWith('logical:') && any.underlyingType) {
          const inner = build(any.underlyingType, path);
          impl = inner;
          break;
        }
        throw new Error(`unsupported Avro type ${any.typeName}`);
    }
    return ref;
  }

  const check = build(root, '');
  // One cursor per compiled checker: checks are synchronous, so it is never shared mid-walk.
  const c: Cursor = { buf: new Uint8Array(0), pos: 0 };
  return (buf, pos) => {
    c.buf = buf;
    c.pos = pos;
    try {
      check(c);
      return c.pos;
    } finally {
      c.buf = EMPTY;
    }
  };
}

function lengthPrefixed(what: string): Checker {
  return (c) => {
    const len = readVarint(c, what);
    if (len < 0) throw new StructureError('corrupt', `negative length in ${what}`);
    skip(c, len, what);
  };
}
