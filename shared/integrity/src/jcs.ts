/**
 * RFC 8785 JSON Canonicalization Scheme for the values the chain uses: objects, strings,
 * safe integers and booleans. Keys sort by UTF-16 code units (JavaScript's default string
 * order), strings serialize as ECMAScript JSON.stringify does, which is what RFC 8785 specifies.
 */
export type JcsValue = string | number | boolean | null | readonly JcsValue[] | { readonly [k: string]: JcsValue };

export function canonicalJson(value: JcsValue): string {
  if (value === null || typeof value === 'boolean') return JSON.stringify(value);
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    // Only integers: the chain never hashes floats, so no ES number-formatting corner cases.
    if (!Number.isSafeInteger(value)) throw new TypeError('canonicalJson: only safe integers are allowed');
    return String(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as { readonly [k: string]: JcsValue };
  const keys = Object.keys(obj).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k] as JcsValue)}`).join(',')}}`;
}
