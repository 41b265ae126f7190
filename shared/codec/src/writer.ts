import type avro from 'avsc';

/**
 * A compiled Avro binary writer for a schema, faster than avsc's `Type#encode` on the SDK's
 * hot path: one generated function per record with the fields inlined, ASCII strings written
 * without `Buffer.byteLength` (the largest cost in avsc's writer), enum symbols looked up in a
 * Map, `["null", T]` unions without avsc's value bucketing, defaults copied as pre-encoded bytes.
 *
 * Output is byte-for-byte what avsc writes (tests compare them over many events), with one
 * deliberate difference: a lone UTF-16 surrogate in a string of 64 characters or fewer is
 * written as U+FFFD (valid UTF-8, like avsc does for longer strings) rather than as its
 * surrogate code point.
 *
 * Supports record, enum, string, long, int, boolean, float, double, null, map, array and
 * two-branch unions with a null branch: what the AuditEvent contract uses and the obvious
 * neighbours. `compileWriter` returns undefined for anything else (the codec then uses avsc).
 *
 * A writer returns the position after the value, or -1 when `buf` is too small (the caller
 * grows it and retries). An invalid value throws INVALID_VALUE; the caller asks avsc which
 * field is at fault (its messages quote values, which ours must not).
 */
export type CompiledWriter = (value: unknown, buf: Buffer, pos: number) => number;

export const INVALID_VALUE = new Error('value does not match the schema');

type AnyType = avro.Type & { typeName: string };

export function compileWriter(type: avro.Type): CompiledWriter | undefined {
  const args: unknown[] = [];
  const argNames: string[] = [];
  const functions: string[] = [];
  const recordFns = new Map<avro.Type, string>();
  let ok = true;

  function constant(prefix: string, value: unknown): string {
    const name = `${prefix}${args.length}`;
    args.push(value);
    argNames.push(name);
    return name;
  }

  /** Code that writes the JS expression `v` (a local variable name) of type `t` at `p` into `b`. */
  function emit(t: AnyType, v: string, depth: number): string {
    switch (t.typeName) {
      case 'null':
        return `if (${v} !== null) throw INVALID;\n`;
      case 'boolean':
        return `if (typeof ${v} !== 'boolean') throw INVALID;\nif (p >= b.length) return -1;\nb[p++] = ${v} ? 1 : 0;\n`;
      case 'int':
        return `if (${v} !== (${v} | 0)) throw INVALID;\np = wl(b, p, ${v}); if (p < 0) return -1;\n`;
      case 'long':
        // avsc's isSafeLong bounds.
        return `if (typeof ${v} !== 'number' || ${v} % 1 || ${v} > 9007199254740990 || ${v} < -9007199254740990) throw INVALID;\np = wl(b, p, ${v}); if (p < 0) return -1;\n`;
      case 'float':
        return `if (typeof ${v} !== 'number') throw INVALID;\nif (p + 4 > b.length) return -1;\nb.writeFloatLE(${v}, p); p += 4;\n`;
      case 'double':
        return `if (typeof ${v} !== 'number') throw INVALID;\nif (p + 8 > b.length) return -1;\nb.writeDoubleLE(${v}, p); p += 8;\n`;
      case 'string':
        return `p = ws(b, p, ${v}); if (p < 0) return -1;\n`;
      case 'enum': {
        const symbols = (t as unknown as { symbols: string[] }).symbols;
        const map = constant('sym', new Map(symbols.map((s, i) => [s, i])));
        const i = `i${depth}`;
        return `{ const ${i} = ${map}.get(${v}); if (${i} === undefined) throw INVALID;\np = wl(b, p, ${i}); if (p < 0) return -1; }\n`;
      }
      case 'map': {
        const values = (t as unknown as { valuesType: AnyType }).valuesType;
        const k = `k${depth}`;
        const j = `j${depth}`;
        const x = `x${depth}`;
        // Own enumerable keys in Object.keys order, counted then written with for-in (no
        // key array per event; inherited enumerable keys are skipped like Object.keys does).
        return (
          `if (typeof ${v} !== 'object' || ${v} === null || Array.isArray(${v})) throw INVALID;\n` +
          `{ let ${j} = 0; for (const ${k} in ${v}) if (Object.hasOwn(${v}, ${k})) ${j}++;\n` +
          `if (${j} > 0) { p = wl(b, p, ${j}); if (p < 0) return -1;\n` +
          `for (const ${k} in ${v}) { if (!Object.hasOwn(${v}, ${k})) continue; p = ws(b, p, ${k}); if (p < 0) return -1; const ${x} = ${v}[${k}];\n` +
          emit(values, x, depth + 1) +
          `} }\nif (p >= b.length) return -1;\nb[p++] = 0; }\n`
        );
      }
      case 'array': {
        const items = (t as unknown as { itemsType: AnyType }).itemsType;
        const j = `j${depth}`;
        const x = `x${depth}`;
        return (
          `if (!Array.isArray(${v})) throw INVALID;\n` +
          `if (${v}.length > 0) { p = wl(b, p, ${v}.length); if (p < 0) return -1;\n` +
          `for (let ${j} = 0; ${j} < ${v}.length; ${j}++) { const ${x} = ${v}[${j}];\n` +
          emit(items, x, depth + 1) +
          `} }\nif (p >= b.length) return -1;\nb[p++] = 0;\n`
        );
      }
      case 'union:unwrapped': {
        const branches = (t as unknown as { types: AnyType[] }).types;
        const nullAt = branches.findIndex((b) => b.typeName === 'null');
        if (branches.length !== 2 || nullAt < 0) {
          ok = false;
          return '';
        }
        const other = branches[1 - nullAt] as AnyType;
        // avsc's unwrapped union picks the null branch for null only (undefined is invalid).
        return (
          `if (p >= b.length) return -1;\n` +
          `if (${v} === null) { b[p++] = ${nullAt * 2}; } else { b[p++] = ${(1 - nullAt) * 2};\n` +
          emit(other, v, depth + 1) +
          `}\n`
        );
      }
      case 'record':
      case 'error':
        return `p = ${recordFn(t)}(${v}, b, p); if (p < 0) return -1;\n`;
      default:
        ok = false;
        return '';
    }
  }

  function recordFn(t: AnyType): string {
    const known = recordFns.get(t);
    if (known) return known;
    const name = `w${recordFns.size}`;
    recordFns.set(t, name);
    const fields = (t as unknown as { fields: Array<{ name: string; type: AnyType; defaultValue(): unknown }> }).fields;
    let body = `function ${name}(r, b, p) {\nif (typeof r !== 'object' || r === null) throw INVALID;\n`;
    for (const [i, f] of fields.entries()) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(f.name)) {
        ok = false;
        return name;
      }
      const v = `f${i}`;
      body += `{ const ${v} = r.${f.name};\n`;
      const def = f.defaultValue();
      if (def !== undefined) {
        // Like avsc: an absent field is written as its default, pre-encoded. Short defaults
        // (null, an enum symbol, {}: one byte each) are inlined as literal bytes.
        const encoded = f.type.toBuffer(def);
        let writeDefault: string;
        if (encoded.length <= 16) {
          writeDefault = `if (p + ${encoded.length} > b.length) return -1; ${[...encoded].map((x) => `b[p++] = ${x};`).join(' ')}`;
        } else {
          const bytes = constant('d', new Uint8Array(encoded));
          writeDefault = `if (p + ${encoded.length} > b.length) return -1; b.set(${bytes}, p); p += ${encoded.length};`;
        }
        body += `if (${v} === undefined) { ${writeDefault} } else {\n`;
        body += emit(f.type, v, 0);
        body += '}\n';
      } else {
        body += emit(f.type, v, 0);
      }
      body += '}\n';
    }
    body += 'return p;\n}\n';
    functions.push(body);
    return name;
  }

  const root = emit(type as AnyType, 'value', 0);
  if (!ok) return undefined;
  const source = `${functions.join('\n')}\nreturn function write(value, b, p) {\n${root}return p;\n};`;
  const factory = new Function('INVALID', 'wl', 'ws', ...argNames, source) as (...a: unknown[]) => CompiledWriter;
  return factory(INVALID_VALUE, writeLong, writeString, ...args);
}

/** Avro zig-zag varint of a safe integer (avsc's Tap#writeLong, with a bounds check). */
function writeLong(b: Buffer, p: number, n: number): number {
  if (p + 10 > b.length) return -1;
  if (n >= -1073741824 && n < 1073741824) {
    let m = n >= 0 ? n << 1 : (~n << 1) | 1;
    while (m > 0x7f) {
      b[p++] = (m & 0x7f) | 0x80;
      m >>>= 7;
    }
    b[p++] = m;
    return p;
  }
  let f = n >= 0 ? n * 2 : -n * 2 - 1;
  while (f >= 128) {
    b[p++] = (f & 0x7f) | 0x80;
    f = Math.floor(f / 128);
  }
  b[p++] = f;
  return p;
}

/** Length-prefixed UTF-8. ASCII (the usual case) is copied char by char with its length known up front. */
function writeString(b: Buffer, p: number, s: unknown): number {
  if (typeof s !== 'string') throw INVALID_VALUE;
  const n = s.length;
  if (p + 10 + 3 * n > b.length) return -1;
  let q: number;
  if (n < 64) {
    b[p] = n << 1;
    q = p + 1;
  } else {
    q = writeLong(b, p, n);
  }
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) return writeUtf8(b, p, s);
    b[q + i] = c;
  }
  return q + n;
}

function writeUtf8(b: Buffer, p: number, s: string): number {
  const len = Buffer.byteLength(s);
  const q = writeLong(b, p, len);
  b.write(s, q, len, 'utf8');
  return q + len;
}
