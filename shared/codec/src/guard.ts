import type avro from 'avsc';

/**
 * A structural pre-check of an Avro body against its writer type, run before avsc decodes
 * it. avsc trusts block counts: a garbage or hostile map/array count of 2^40 makes it loop
 * (synchronously) for hours. This walk bounds every count by the bytes left, checks union
 * and enum indexes and string lengths, and returns where the body ends, so a poison
 * message fails fast with a precise reason instead of hanging a consumer.
 *
 * Checkers are compiled once per avsc Type and shared wherever the Type occurs (avsc shares one
 * `string` Type across every field), so they know nothing of where they are: the path is put
 * together while the error unwinds, each record adding its field name (and maps/arrays their
 * `{}` / `[]`), so the reason names the field the body really ended in.
 */
export class StructureError extends Error {
  /** Where in the record: a dotted field path (`actor.user_agent`, `attributes{}`), '' for the whole body. */
  where = '';
  constructor(
    readonly kind: 'truncated' | 'corrupt',
    /** What went wrong, completed by the place: "payload ends inside", "enum index 9 out of range in". */
    readonly detail: string,
  ) {
    super(`${detail} the body`);
  }
  /** The dotted field the failure is in (without map/array decorations), if any. */
  get field(): string | undefined {
    return this.where.split(/[ {[]/)[0] || undefined;
  }
  /** Called by the enclosing record/map/array as the error passes through it. */
  within(prefix: string): this {
    const w = this.where;
    this.where = w === '' ? prefix : w[0] === '{' || w[0] === '[' || w[0] === ' ' ? prefix + w : `${prefix}.${w}`;
    this.message = `${this.detail} ${this.where}`;
    return this;
  }
}

interface Cursor {
  buf: Uint8Array;
  pos: number;
}
type Checker = (c: Cursor) => void;

const MAX_ZERO_SIZE_ITEMS = 1_000_000;
const EMPTY = new Uint8Array(0);

function truncated(suffix = ''): StructureError {
  const e = new StructureError('truncated', 'payload ends inside');
  return suffix ? e.within(suffix) : e;
}

function readVarint(c: Cursor): number {
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
    if (c.pos >= c.buf.length) throw truncated();
    const b = c.buf[c.pos++] as number;
    n += (b & 0x7f) * mult;
    if ((b & 0x80) === 0) return n % 2 === 1 ? -(n + 1) / 2 : n / 2;
    mult *= 128;
  }
  throw new StructureError('corrupt', 'varint longer than 10 bytes in');
}

function skip(c: Cursor, n: number): void {
  if (c.pos + n > c.buf.length) throw truncated();
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

  function build(t: avro.Type): Checker {
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
    switch (any.typeName) {
      case 'null':
        impl = () => {};
        break;
      case 'boolean':
        impl = (c) => {
          if (c.pos >= c.buf.length) throw truncated();
          const b = c.buf[c.pos++];
          if (b !== 0 && b !== 1) throw new StructureError('corrupt', 'invalid boolean byte in');
        };
        break;
      case 'int':
      case 'long':
        impl = (c) => {
          readVarint(c);
        };
        break;
      case 'float':
        impl = (c) => skip(c, 4);
        break;
      case 'double':
        impl = (c) => skip(c, 8);
        break;
      case 'fixed': {
        const size = any.size ?? 0;
        impl = (c) => skip(c, size);
        break;
      }
      case 'string':
      case 'bytes':
        impl = lengthPrefixed;
        break;
      case 'enum': {
        const n = any.symbols?.length ?? 0;
        impl = (c) => {
          const i = readVarint(c);
          if (i < 0 || i >= n) throw new StructureError('corrupt', `enum index ${i} out of range in`);
        };
        break;
      }
      case 'union:unwrapped':
      case 'union:wrapped': {
        const branches = (any.types ?? []).map((b) => build(b));
        impl = (c) => {
          const i = readVarint(c);
          const b = branches[i];
          if (!b) throw new StructureError('corrupt', `union branch ${i} out of range in`);
          b(c);
        };
        break;
      }
      case 'record':
      case 'error': {
        const fields = (any.fields ?? []).map((f) => build(f.type));
        const names = (any.fields ?? []).map((f) => f.name);
        const n = fields.length;
        impl = (c) => {
          let i = 0;
          try {
            for (; i < n; i++) (fields[i] as Checker)(c);
          } catch (err) {
            if (err instanceof StructureError) err.within(names[i] as string);
            throw err;
          }
        };
        break;
      }
      case 'array':
      case 'map': {
        const isMap = any.typeName === 'map';
        const itemType = (isMap ? any.valuesType : any.itemsType) as avro.Type;
        const item = build(itemType);
        const itemSuffix = isMap ? '{}' : '[]';
        const perItem = (isMap ? 1 : 0) + minSize(itemType);
        impl = (c) => {
          for (;;) {
            let count = readVarint(c);
            if (count === 0) return;
            if (count < 0) {
              count = -count;
              readVarint(c); // block size in bytes
            }
            const left = c.buf.length - c.pos;
            if (perItem > 0 ? count * perItem > left : count > MAX_ZERO_SIZE_ITEMS) throw truncated(` (block of ${count} items)`);
            for (let i = 0; i < count; i++) {
              if (isMap) {
                try {
                  lengthPrefixed(c);
                } catch (err) {
                  if (err instanceof StructureError) err.within(' key');
                  throw err;
                }
              }
              try {
                item(c);
              } catch (err) {
                if (err instanceof StructureError) err.within(itemSuffix);
                throw err;
              }
            }
          }
        };
        break;
      }
      default:
        if (any.typeName.startsWith('logical:') && any.underlyingType) {
          const inner = build(any.underlyingType);
          impl = inner;
          break;
        }
        throw new Error(`unsupported Avro type ${any.typeName}`);
    }
    return ref;
  }

  const check = build(root);
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

function lengthPrefixed(c: Cursor): void {
  const len = readVarint(c);
  if (len < 0) throw new StructureError('corrupt', 'negative length in');
  skip(c, len);
}
