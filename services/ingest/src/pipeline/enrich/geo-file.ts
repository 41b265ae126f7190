import { fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import { dirname, join } from 'node:path';
import type { GeoLookup, GeoResult } from './geo.js';

/**
 * geoip-lite's city database, read from its files instead of held in memory. geoip-lite reads the
 * three city files (~140 MiB) into Buffers, which alone took ingest's resident set near its memory
 * budget. Here a lookup runs geoip-lite's own binary search over the files: the records its
 * upper steps probe are kept once read (at most about 1 in 32 records, a few MiB, as addresses
 * spread), and the last BLOCK
 * records of the search are read with one pread, from the page cache (the last WINDOWS such reads
 * are kept); the location records
 * (country, city: ~10 MiB) are held in memory. Same files, same answers as geoip-lite's lookup() for every address it answers
 * (geo-file.test.ts compares them).
 */
const BLOCK = 64;
/** Last steps' windows kept per file (≤ 65 records each: ~1.5 MiB for IPv4, ~3 MiB for IPv6): addresses of one network repeat. */
const WINDOWS = 1024;
const V4_RECORD = 24; // floor u32, ceil u32, location id u32, lat, lon, area
const V6_RECORD = 48; // floor 16 bytes, ceil 16 bytes (geoip-lite compares the first 8 of each), location id u32, ...
const LOCATION_RECORD = 88; // country 2, region 3, metro 4, eu 1, timezone 32, city 46
const NO_LOCATION = 0xffffffff;
// geoip-lite answers nothing for these (its privateRange4).
const PRIVATE_V4: readonly [number, number][] = [
  [0x0a000000, 0x0affffff],
  [0xac100000, 0xac1fffff],
  [0xc0a80000, 0xc0a8ffff],
];

interface RangeFile {
  fd: number;
  lastLine: number;
  recordSize: number;
  /** Words compared per address: 1 (IPv4) or 2 (the first 64 bits of an IPv6 address, as geoip-lite compares). */
  words: number;
  /** Byte offset of the ceiling in a record. */
  ceilAt: number;
  /** Byte offset of the location id in a record. */
  locAt: number;
  /** Records probed while the search spans more than BLOCK: line → slot of `top` (floor, ceil, location id; 5 words). */
  slots: Map<number, number>;
  top: Uint32Array;
  /** The records fline..cline once the search spans at most BLOCK of them. */
  block: Buffer;
  /** Windows read lately, by where they start and end (at most WINDOWS; cleared when full). */
  windows: Map<number, Buffer>;
  one: Buffer;
  /** The probed record: floor hi/lo, ceil hi/lo, location id. */
  cur: Uint32Array;
}

function openRanges(path: string, recordSize: number, words: number): RangeFile {
  const fd = openSync(path, 'r');
  const records = Math.floor(fstatSync(fd).size / recordSize);
  if (records === 0) throw new Error(`geo database ${path} is empty`);
  const half = words === 1 ? 4 : 16;
  return {
    fd,
    lastLine: records - 1,
    recordSize,
    words,
    ceilAt: half,
    locAt: 2 * half,
    slots: new Map(),
    top: new Uint32Array(1024 * 5),
    block: Buffer.alloc(0),
    windows: new Map(),
    one: Buffer.allocUnsafe(recordSize),
    cur: new Uint32Array(5),
  };
}

function readFully(fd: number, buf: Buffer, length: number, position: number): void {
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, done, length - done, position + done);
    if (n === 0) throw new Error('geo database file ended early');
    done += n;
  }
}

function decode(f: RangeFile, buf: Buffer, off: number, into: Uint32Array, at: number): void {
  into[at] = buf.readUInt32BE(off);
  into[at + 1] = f.words === 2 ? buf.readUInt32BE(off + 4) : 0;
  into[at + 2] = buf.readUInt32BE(off + f.ceilAt);
  into[at + 3] = f.words === 2 ? buf.readUInt32BE(off + f.ceilAt + 4) : 0;
  into[at + 4] = buf.readUInt32BE(off + f.locAt);
}

/** Loads record `line` into f.cur: from the window when it holds it, else from the cache of upper probes (filled by pread). */
function probe(f: RangeFile, line: number, windowFrom: number, windowTo: number): void {
  if (line >= windowFrom && line <= windowTo) {
    decode(f, f.block, (line - windowFrom) * f.recordSize, f.cur, 0);
    return;
  }
  let slot = f.slots.get(line);
  if (slot === undefined) {
    slot = f.slots.size;
    if ((slot + 1) * 5 > f.top.length) {
      const grown = new Uint32Array(f.top.length * 2);
      grown.set(f.top);
      f.top = grown;
    }
    readFully(f.fd, f.one, f.recordSize, line * f.recordSize);
    decode(f, f.one, 0, f.top, slot * 5);
    f.slots.set(line, slot);
  }
  // Copied word by word: a subarray() per probe would allocate.
  for (let i = 0; i < 5; i++) f.cur[i] = f.top[slot * 5 + i] as number;
}

const cmp = (aHi: number, aLo: number, bHi: number, bLo: number) => (aHi !== bHi ? (aHi < bHi ? -1 : 1) : aLo === bLo ? 0 : aLo < bLo ? -1 : 1);

/**
 * geoip-lite's binary search (lookup4/lookup6), step for step, so that where IPv6 ranges share
 * their first 64 bits it settles on the same one. The location id of the range found, or undefined.
 */
function findRange(f: RangeFile, hi: number, lo: number): number | undefined {
  const c = f.cur;
  probe(f, f.lastLine, -1, -1);
  if (cmp(hi, lo, c[2] as number, c[3] as number) > 0) return undefined;
  probe(f, 0, -1, -1);
  if (cmp(hi, lo, c[0] as number, c[1] as number) < 0) return undefined;
  let fline = 0;
  let cline = f.lastLine;
  let windowFrom = -1;
  let windowTo = -1;
  for (;;) {
    if (windowFrom < 0 && cline - fline <= BLOCK) {
      const key = fline * 4096 + (cline - fline);
      let block = f.windows.get(key);
      if (!block) {
        if (f.windows.size >= WINDOWS) f.windows.clear();
        block = Buffer.allocUnsafeSlow((cline - fline + 1) * f.recordSize);
        readFully(f.fd, block, block.length, fline * f.recordSize);
        f.windows.set(key, block);
      }
      f.block = block;
      windowFrom = fline;
      windowTo = cline;
    }
    const line = Math.round((cline - fline) / 2) + fline;
    probe(f, line, windowFrom, windowTo);
    const floorCmp = cmp(c[0] as number, c[1] as number, hi, lo);
    const ceilCmp = cmp(c[2] as number, c[3] as number, hi, lo);
    if (floorCmp <= 0 && ceilCmp >= 0) return c[4] as number;
    if (fline === cline) return undefined;
    if (fline === cline - 1) {
      if (line === fline) fline = cline;
      else cline = fline;
    } else if (floorCmp > 0) cline = line;
    else if (ceilCmp < 0) fline = line;
  }
}

function ipv4Number(ip: string): number {
  const p = ip.split('.');
  return (
    ((Number.parseInt(p[0] as string, 10) << 24) >>> 0) +
    ((Number.parseInt(p[1] as string, 10) << 16) >>> 0) +
    ((Number.parseInt(p[2] as string, 10) << 8) >>> 0) +
    (Number.parseInt(p[3] as string, 10) >>> 0)
  );
}

/** The first 64 bits of an IPv6 address as two u32 words (geoip-lite's utils.aton6 and cmp6). */
function ipv6Words(ip: string): [number, number] {
  const a: (string | number)[] = ip.replace(/"/g, '').split(/:/);
  const l = a.length - 1;
  if (a[l] === '') a[l] = 0;
  if (l < 7) {
    a.length = 8;
    for (let i = l; i >= 0 && a[i] !== ''; i--) a[7 - l + i] = a[i] as string | number;
  }
  const g = (i: number) => (a[i] ? Number.parseInt(String(a[i]), 16) : 0);
  return [((g(0) << 16) + g(1)) >>> 0, ((g(2) << 16) + g(3)) >>> 0];
}

const V4_MAPPED = ['0:0:0:0:0:FFFF:', '::FFFF:'];

/** The lookup over geoip-lite's data files (its package's data/, or GEODATADIR as geoip-lite reads it). */
export function geoFileLookup(dataDir?: string): GeoLookup {
  const dir = dataDir ?? process.env.GEODATADIR ?? join(dirname(createRequire(import.meta.url).resolve('geoip-lite/package.json')), 'data');
  const v4 = openRanges(join(dir, 'geoip-city.dat'), V4_RECORD, 1);
  const v6 = openRanges(join(dir, 'geoip-city6.dat'), V6_RECORD, 2);
  // The location records (~10 MiB) stay in memory: a hit then costs one pread, not two.
  const names = readFileSync(join(dir, 'geoip-city-names.dat'));
  const text = (at: number, from: number, to: number) => names.toString('utf8', at + from, at + to).replace(/\u0000.*/, '');

  function result(locId: number | undefined): GeoResult | undefined {
    if (locId === undefined) return undefined;
    if (locId === NO_LOCATION) return { country: '', city: '' };
    const at = locId * LOCATION_RECORD;
    return { country: text(at, 0, 2), city: text(at, 42, LOCATION_RECORD) };
  }

  function lookup4(n: number): GeoResult | undefined {
    if (!(n >= 0 && n <= 0xffffffff)) return undefined;
    for (const [lo, hi] of PRIVATE_V4) if (n >= lo && n <= hi) return undefined;
    return result(findRange(v4, n, 0));
  }

  const lookup: GeoLookup = (ip) => {
    const kind = isIP(ip);
    if (kind === 4) return lookup4(ipv4Number(ip));
    if (kind !== 6) return undefined;
    const upper = ip.toUpperCase();
    for (const prefix of V4_MAPPED)
      if (upper.startsWith(prefix)) return isIP(upper.slice(prefix.length)) === 4 ? lookup4(ipv4Number(upper.slice(prefix.length))) : undefined;
    const [hi, lo] = ipv6Words(ip);
    return result(findRange(v6, hi, lo));
  };
  // The files stay open for the process's life, as geoip-lite's buffers stay loaded.
  return lookup;
}
