import type { AvroSchema } from '@auditstream/schemas';

/**
 * Avro "Parsing Canonical Form" and the CRC-64-AVRO (Rabin) fingerprint, per the Avro
 * specification (§ Schema Resolution › Parsing Canonical Form; § Schema Fingerprints).
 * avsc only offers crypto-module hashes (md5, sha256), so both are implemented here.
 */
const PRIMITIVES = new Set(['null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string']);
type Node = Record<string, unknown>;

export function parsingCanonicalForm(schema: AvroSchema): string {
  const defined = new Set<string>();

  function canon(s: unknown, ns: string): string {
    if (typeof s === 'string') {
      if (PRIMITIVES.has(s)) return JSON.stringify(s);
      return JSON.stringify(s.includes('.') || !ns ? s : `${ns}.${s}`);
    }
    if (Array.isArray(s)) return `[${s.map((b) => canon(b, ns)).join(',')}]`;
    const o = s as Node;
    const type = o.type;
    if (typeof type !== 'string') return canon(type, ns); // {"type": {...}} or {"type": [...]}
    if (PRIMITIVES.has(type)) return JSON.stringify(type);
    if (type === 'record' || type === 'error' || type === 'enum' || type === 'fixed') {
      const name = String(o.name);
      const full = name.includes('.') ? name : typeof o.namespace === 'string' && o.namespace ? `${o.namespace}.${name}` : ns ? `${ns}.${name}` : name;
      if (defined.has(full)) return JSON.stringify(full);
      defined.add(full);
      const inner = full.includes('.') ? full.slice(0, full.lastIndexOf('.')) : '';
      const head = `{"name":${JSON.stringify(full)},"type":${JSON.stringify(type === 'error' ? 'record' : type)}`;
      if (type === 'enum') return `${head},"symbols":${JSON.stringify(o.symbols)}}`;
      if (type === 'fixed') return `${head},"size":${Number(o.size)}}`;
      const fields = (o.fields as Node[]).map((f) => `{"name":${JSON.stringify(f.name)},"type":${canon(f.type, inner)}}`);
      return `${head},"fields":[${fields.join(',')}]}`;
    }
    if (type === 'array') return `{"type":"array","items":${canon(o.items, ns)}}`;
    if (type === 'map') return `{"type":"map","values":${canon(o.values, ns)}}`;
    // A reference to a named type written as {"type": "io.x.Name"}.
    return canon(type, ns);
  }

  return canon(schema, '');
}

const EMPTY = 0xc15d213aa4d7a795n;
const MASK = 0xffffffffffffffffn;
let table: BigUint64Array | undefined;

function fpTable(): BigUint64Array {
  if (table) return table;
  table = new BigUint64Array(256);
  for (let i = 0; i < 256; i++) {
    let fp = BigInt(i);
    for (let j = 0; j < 8; j++) fp = (fp >> 1n) ^ (EMPTY & -(fp & 1n) & MASK);
    table[i] = fp;
  }
  return table;
}

/** CRC-64-AVRO of raw bytes, as an unsigned 64-bit bigint. */
export function crc64Avro(data: Uint8Array | string): bigint {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const t = fpTable();
  let fp = EMPTY;
  for (let i = 0; i < bytes.length; i++) fp = (fp >> 8n) ^ (t[Number((fp ^ BigInt(bytes[i] as number)) & 0xffn)] as bigint);
  return fp;
}

/** The 8-byte little-endian CRC-64-AVRO fingerprint of a schema's canonical form, as single-object encoding writes it. */
export function schemaFingerprint(schema: AvroSchema): Buffer {
  const out = Buffer.alloc(8);
  out.writeBigUInt64LE(crc64Avro(parsingCanonicalForm(schema)));
  return out;
}
