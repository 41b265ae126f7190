import { randomBytes } from 'node:crypto';

// randomBytes per id was the largest cost on the SDK's publish path; one 4 KiB draw serves 409 ids
// (10 random bytes each). The id is written as ASCII hex into one scratch buffer and read out as
// a single flat string: no per-id Buffer, hex string, slices or concatenations (~0.1 µs vs ~0.4 µs,
// and one small allocation instead of a dozen, which matters while many publishes are outstanding).
const POOL_SIZE = 4096;
const RANDOM_BYTES = 10;
let pool = Buffer.alloc(0);
let poolOffset = POOL_SIZE;
const scratch = Buffer.alloc(36);
/** HEX[2b], HEX[2b+1]: the two lowercase hex digits (ASCII) of byte b. */
const HEX = new Uint8Array(512);
for (let i = 0; i < 256; i++) {
  const s = i.toString(16).padStart(2, '0');
  HEX[2 * i] = s.charCodeAt(0);
  HEX[2 * i + 1] = s.charCodeAt(1);
}

function hexByte(at: number, b: number): void {
  scratch[at] = HEX[2 * b] as number;
  scratch[at + 1] = HEX[2 * b + 1] as number;
}

/** RFC 9562 UUIDv7: 48-bit Unix ms timestamp, version 7, 12 + 62 random bits, variant 10; sorts by creation time. */
export function uuidv7(now: number = Date.now()): string {
  if (poolOffset + RANDOM_BYTES > pool.length) {
    pool = randomBytes(POOL_SIZE);
    poolOffset = 0;
  }
  const r = pool;
  let q = poolOffset;
  poolOffset += RANDOM_BYTES;
  hexByte(0, Math.floor(now / 2 ** 40) & 0xff);
  hexByte(2, Math.floor(now / 2 ** 32) & 0xff);
  hexByte(4, (now >>> 24) & 0xff);
  hexByte(6, (now >>> 16) & 0xff);
  scratch[8] = 0x2d; // '-'
  hexByte(9, (now >>> 8) & 0xff);
  hexByte(11, now & 0xff);
  scratch[13] = 0x2d;
  hexByte(14, 0x70 | ((r[q++] as number) & 0x0f)); // version 7 + rand_a
  hexByte(16, r[q++] as number);
  scratch[18] = 0x2d;
  hexByte(19, 0x80 | ((r[q++] as number) & 0x3f)); // variant 10 + rand_b
  hexByte(21, r[q++] as number);
  scratch[23] = 0x2d;
  for (let at = 24; at < 36; at += 2) hexByte(at, r[q++] as number);
  return scratch.toString('latin1', 0, 36);
}

export const UUID_V7_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Names for test topics, groups and tables: unique per call, safe as identifiers. */
export function uniqueName(prefix: string): string {
  const safe = prefix.replace(/[^a-zA-Z0-9_]/g, '_');
  return `${safe}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
}
