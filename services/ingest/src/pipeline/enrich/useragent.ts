import { createRequire } from 'node:module';
import { defineEnrichStep } from './step.js';

/** Browser, OS and device type from a User-Agent header; empty strings when not recognised. */
export interface UserAgentResult {
  browser: string;
  os: string;
  /** mobile, tablet, console, smarttv, wearable, embedded; desktop when a browser and OS but no device type were found. */
  device: string;
}

interface UAParserResult {
  browser: { name?: string; major?: string };
  os: { name?: string; version?: string };
  device: { type?: string };
}

type UAParserFn = (ua: string) => UAParserResult;

let parser: UAParserFn | undefined;

function load(): UAParserFn {
  // ua-parser-js 1.x (MIT). 2.x is AGPL: do not upgrade.
  if (!parser) parser = createRequire(import.meta.url)('ua-parser-js') as UAParserFn;
  return parser;
}

/** Longest user agent parsed; longer ones are cut (parsing cost is linear, and real ones are far shorter). */
const MAX_UA = 1024;

/** Parsed user agents, most recently used last: real traffic repeats a few thousand agents, and parsing is regex-heavy. */
const cache = new Map<string, UserAgentResult | undefined>();
const CACHE_SIZE = 10_000;

export function parseUserAgent(ua: string): UserAgentResult | undefined {
  if (cache.has(ua)) {
    const hit = cache.get(ua);
    cache.delete(ua);
    cache.set(ua, hit);
    return hit;
  }
  const r = parseUncached(ua);
  cache.set(ua, r);
  if (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value as string);
  return r;
}

function parseUncached(ua: string): UserAgentResult | undefined {
  try {
    const r = load()(ua.slice(0, MAX_UA));
    const browser = [r.browser.name, r.browser.major].filter(Boolean).join(' ');
    const os = [r.os.name, r.os.version].filter(Boolean).join(' ');
    if (!browser && !os) return undefined;
    const device = r.device.type ?? (r.browser.name && r.os.name ? 'desktop' : '');
    return { browser, os, device };
  } catch {
    return undefined;
  }
}

/** Browser, OS and device type of actor.user_agent. */
export const userAgentStep = defineEnrichStep({
  stage: 'user_agent',
  columns: ['ua_browser', 'ua_os', 'ua_device'],
  create({ cfg }) {
    if (!cfg.user_agent_enabled) return undefined;
    return (event, out) => {
      const ua = event.actor?.user_agent;
      if (!ua) return true;
      const r = parseUserAgent(ua);
      if (!r) return false;
      out.ua_browser = r.browser;
      out.ua_os = r.os;
      out.ua_device = r.device;
      return true;
    };
  },
});
