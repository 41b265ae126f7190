import { type ICustomPartitioner, Partitioners } from 'kafkajs';

const M = 0x5bd1e995;
const SEED = 0x9747b28c;

/**
 * Kafka's murmur2 (the Java client's `Utils.murmur2`, which kafkajs's DefaultPartitioner
 * also implements) over the UTF-8 bytes of `key`, as a signed 32-bit int. kafkajs computes it
 * with an emulated 64-bit Long, allocating dozens of objects per key: that was the largest
 * single source of garbage on the SDK's publish path. Only the low 32 bits of those products
 * matter, so Math.imul gives the identical result. ASCII keys are hashed from their char
 * codes without encoding them first.
 */
export function murmur2(key: string | Buffer): number {
  if (typeof key === 'string') {
    for (let i = 0; i < key.length; i++) if (key.charCodeAt(i) > 0x7f) return murmur2Bytes(Buffer.from(key, 'utf8'));
    return murmur2Ascii(key);
  }
  return murmur2Bytes(key);
}

function murmur2Ascii(s: string): number {
  const length = s.length;
  let h = SEED ^ length;
  const end = length & ~3;
  for (let i = 0; i < end; i += 4) {
    let k = s.charCodeAt(i) | (s.charCodeAt(i + 1) << 8) | (s.charCodeAt(i + 2) << 16) | (s.charCodeAt(i + 3) << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  // The tail bytes (the Java code's fall-through switch).
  const tail = length & 3;
  if (tail > 0) {
    if (tail === 3) h ^= s.charCodeAt(end + 2) << 16;
    if (tail >= 2) h ^= s.charCodeAt(end + 1) << 8;
    h ^= s.charCodeAt(end);
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

function murmur2Bytes(data: Uint8Array): number {
  const length = data.length;
  let h = SEED ^ length;
  const end = length & ~3;
  for (let i = 0; i < end; i += 4) {
    let k = (data[i] as number) | ((data[i + 1] as number) << 8) | ((data[i + 2] as number) << 16) | ((data[i + 3] as number) << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const tail = length & 3;
  if (tail > 0) {
    if (tail === 3) h ^= (data[end + 2] as number) << 16;
    if (tail >= 2) h ^= (data[end + 1] as number) << 8;
    h ^= data[end] as number;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/**
 * Pins each message's partition the first time kafkajs asks. Keyed messages go where
 * kafkajs's DefaultPartitioner (and the Java client) would send them — murmur2 of the key,
 * positive, modulo the partition count — computed without allocating; keyless ones use the
 * DefaultPartitioner itself. The SDK reads the pinned partition back to build receipts, and a
 * retried batch keeps its partitions, so the idempotent producer's sequence numbers stay valid.
 */
export const pinningPartitioner: ICustomPartitioner = () => {
  const fallback = Partitioners.DefaultPartitioner();
  return (args) => {
    const m = args.message;
    if (m.partition !== undefined && m.partition !== null) return m.partition;
    const key = m.key;
    const p =
      key !== undefined && key !== null && args.partitionMetadata.length > 0
        ? (murmur2(key as string | Buffer) & 0x7fffffff) % args.partitionMetadata.length
        : fallback(args);
    m.partition = p;
    return p;
  };
};

const keyScratch = Buffer.allocUnsafe(256);

/**
 * The message key `${tenant_id}:${actor_id}` as one flat string. A template literal makes a
 * rope (two or three string objects) that murmur2 and kafkajs flatten again later; ASCII keys
 * are copied into a scratch buffer and read out in one piece instead (~0.1 µs and ~50 bytes
 * of live heap less per event). Anything else takes the template literal.
 */
export function messageKey(tenant: string, actor: string): string {
  const n = tenant.length + 1 + actor.length;
  if (n > keyScratch.length) return `${tenant}:${actor}`;
  let j = 0;
  for (let i = 0; i < tenant.length; i++) {
    const c = tenant.charCodeAt(i);
    if (c > 0x7f) return `${tenant}:${actor}`;
    keyScratch[j++] = c;
  }
  keyScratch[j++] = 0x3a; // ':'
  for (let i = 0; i < actor.length; i++) {
    const c = actor.charCodeAt(i);
    if (c > 0x7f) return `${tenant}:${actor}`;
    keyScratch[j++] = c;
  }
  return keyScratch.toString('latin1', 0, n);
}
