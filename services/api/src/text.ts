/** String.prototype.isWellFormed (Node 20; the ES2023 lib typings predate it): no lone surrogates. */
export function isWellFormed(s: string): boolean {
  return (s as string & { isWellFormed(): boolean }).isWellFormed();
}

/**
 * The query-string parser of the API (WHATWG URLSearchParams): a repeated name becomes an array
 * (which the schemas refuse for scalar parameters), and a percent-sequence that is not UTF-8
 * decodes to U+FFFD, which the problem plugin refuses naming the parameter. The result has no
 * prototype, so `__proto__` is just an unknown parameter.
 */
export function parseQueryString(str: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = Object.create(null);
  for (const [k, v] of new URLSearchParams(str)) {
    const prev = out[k];
    if (prev === undefined) out[k] = v;
    else if (Array.isArray(prev)) prev.push(v);
    else out[k] = [prev, v];
  }
  return out;
}

/** Text that came from a request, made safe to put in an answer: printable ASCII ('?' for the rest), at most `max` characters. */
export function printable(s: string, max: number): string {
  const clean = s.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}
