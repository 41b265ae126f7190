import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import { geoFileLookup } from './geo-file.js';
import { defineEnrichStep } from './step.js';

/** Country (ISO 3166-1 alpha-2) and city of an IP address; empty strings when unknown. */
export interface GeoResult {
  country: string;
  city: string;
}

/** Looks up an address; undefined when the database has no entry for it. */
export type GeoLookup = (ip: string) => GeoResult | undefined;

/**
 * geoip-lite's own lookup, which loads its city files into memory (~140 MiB). Ingest reads the
 * same files with geoFileLookup (geo-file.ts); this one is the reference its test compares with.
 */
export function geoipLiteLookup(): GeoLookup {
  const require = createRequire(import.meta.url);
  const geoip = require('geoip-lite') as { lookup: (ip: string) => { country?: string; city?: string } | null };
  return (ip) => {
    const r = geoip.lookup(ip);
    if (!r) return undefined;
    return { country: r.country ?? '', city: r.city ?? '' };
  };
}

export type GeoOutcome = { ok: true; geo: GeoResult } | { ok: false; why: 'not_an_ip' | 'not_found' | 'error' };

/** One geo step: never throws. IPv4-mapped IPv6 (::ffff:a.b.c.d) is looked up as IPv4. */
export function lookupGeo(lookup: GeoLookup, raw: string): GeoOutcome {
  try {
    let ip = raw.trim();
    if (ip.toLowerCase().startsWith('::ffff:') && isIP(ip.slice(7)) === 4) ip = ip.slice(7);
    if (isIP(ip) === 0) return { ok: false, why: 'not_an_ip' };
    const geo = lookup(ip);
    if (!geo || !geo.country) return { ok: false, why: 'not_found' };
    return { ok: true, geo };
  } catch {
    return { ok: false, why: 'error' };
  }
}

/** Addresses whose outcome is kept: a user's or a service's events come from few addresses. */
export const GEO_CACHE_SIZE = 10_000;

/**
 * lookupGeo with the outcomes of the last addresses kept (a binary search over the database
 * files costs a few µs; a kept outcome, one map read). The map is cleared when full: no
 * eviction order to maintain on the hot path. Errors are not kept (a failed read may succeed next time).
 */
export function cachedGeo(lookup: GeoLookup, size = GEO_CACHE_SIZE): (raw: string) => GeoOutcome {
  const kept = new Map<string, GeoOutcome>();
  return (raw) => {
    let r = kept.get(raw);
    if (r !== undefined) return r;
    r = lookupGeo(lookup, raw);
    if (r.ok || r.why !== 'error') {
      if (kept.size >= size) kept.clear();
      kept.set(raw, r);
    }
    return r;
  };
}

/** Country and city of actor.ip, from the offline GeoLite2 database shipped in the geoip-lite package (or the one injected): no network. */
export const geoStep = defineEnrichStep({
  stage: 'geo',
  columns: ['geo_country', 'geo_city'],
  create({ cfg, deps }) {
    if (!cfg.geo_enabled) return undefined;
    const geo = cachedGeo(deps.geo ?? geoFileLookup());
    return (event, out) => {
      const ip = event.actor?.ip;
      if (!ip) return true;
      const r = geo(ip);
      if (!r.ok) return false;
      out.geo_country = r.geo.country;
      out.geo_city = r.geo.city;
      return true;
    };
  },
});
