import assert from 'node:assert/strict';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { geoipLiteLookup } from './geo.js';
import { geoFileLookup } from './geo-file.js';

const dataDir = join(dirname(createRequire(import.meta.url).resolve('geoip-lite/package.json')), 'data');
const answer = (r: { country: string; city: string } | undefined) => (r?.country ? `${r.country}|${r.city}` : '');

/** Addresses at the edges of every `every`-th range of a city file: its floor, its ceiling, and one beyond each. */
function edges(file: string, recordSize: number, every: number, format: (b: Buffer) => string, step: (b: Buffer, d: number) => Buffer): string[] {
  const fd = openSync(join(dataDir, file), 'r');
  const records = fstatSync(fd).size / recordSize;
  const rec = Buffer.alloc(recordSize);
  const out: string[] = [];
  for (let i = 0; i < records; i += every) {
    readSync(fd, rec, 0, recordSize, i * recordSize);
    const half = recordSize === 24 ? 4 : 16;
    const floor = Buffer.from(rec.subarray(0, half));
    const ceil = Buffer.from(rec.subarray(half, 2 * half));
    out.push(format(floor), format(ceil), format(step(floor, -1)), format(step(ceil, 1)));
  }
  closeSync(fd);
  return out;
}

const v4 = (b: Buffer) => [...b].join('.');
const v6 = (b: Buffer) => Array.from({ length: 8 }, (_, i) => b.readUInt16BE(i * 2).toString(16)).join(':');
/** b ± 1 as an unsigned big-endian number (wrapping). */
function step(b: Buffer, d: number): Buffer {
  const c = Buffer.from(b);
  for (let i = c.length - 1; i >= 0; i--) {
    const v = (c[i] as number) + d;
    c[i] = v & 0xff;
    if (v >= 0 && v <= 0xff) break;
  }
  return c;
}

test("geo file lookup: the same country and city as geoip-lite's lookup at the edges of its ranges and at random addresses", () => {
  const file = geoFileLookup();
  const lite = geoipLiteLookup();
  const ips = [
    ...edges('geoip-city.dat', 24, 389, v4, step),
    ...edges('geoip-city6.dat', 48, 499, v6, step),
    '81.2.69.142',
    '2a02:8070::1',
    '::ffff:81.2.69.142',
    '0:0:0:0:0:ffff:81.2.69.142',
    '10.1.2.3',
    '172.16.0.1',
    '192.168.1.1',
    '127.0.0.1',
    '0.0.0.0',
    '255.255.255.255',
    '::',
    '::1',
    'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
  ];
  let seed = 7;
  const next = () => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed;
  };
  for (let i = 0; i < 20_000; i++) ips.push(v4(Buffer.from([next() >>> 24, next() >>> 24, next() >>> 24, next() >>> 24])));
  for (let i = 0; i < 5_000; i++)
    ips.push(`2${(next() >>> 20).toString(16).padStart(3, '0')}:${(next() >>> 16).toString(16)}:${(next() >>> 16).toString(16)}::1`);
  let found = 0;
  for (const ip of ips) {
    const got = answer(file(ip));
    assert.equal(got, answer(lite(ip)), ip);
    if (got) found++;
  }
  assert.ok(found > ips.length / 4, `most addresses have an answer (${found} of ${ips.length})`);
});
