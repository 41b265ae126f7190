import { createRequire } from 'node:module';

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

export function parseUserAgent(ua: string): UserAgentResult | undefined {
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
