/**
 * RFC 8785 JSON Canonicalization Scheme for the values the chain uses: objects, strings,
 * safe integers and booleans. Keys sort by UTF-16 code units (JavaScript's default string
 * order), strings serialize as ECMAScript JSON.stringify does, which is what RFC 8785 specifies.
 *
 * Why not the `canonicalize` package (jcs.test.ts holds this equal to it on every input both accept):
 * - behaviour: it throws on a lone surrogate, and `auditstream verify` must report a row altered
 *   that way as a hash mismatch, not crash; it accepts floats, which the chain format excludes;
 * - cost on the per-event path (ingest chains every event, verify every row): a 5-key attributes
 *   object took a median 2.5-3.7 us here against 4.7-4.9 us with canonicalize 4.0.0 (500k objects x 7
 *   rounds, on the shared 2-core dev machine; the minima were alike, about 2.0 us);
 * - canonicalize 5.x needs Node 22; this project runs on Node 20.
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
