import { createHash, type KeyObject } from 'node:crypto';
import zlib from 'node:zlib';
import type { Checkpoint } from './checkpoint.js';
import { canonicalJson, type JcsValue } from './jcs.js';
import { type SigningKey, signBytes, verifyBytes } from './keys.js';

/**
 * Signed export manifests (docs/integrity.md#export-manifests): what one export of the query API
 * was (who, which tenants, the exact filter, the range), what it contained (the row count and a
 * digest over the rows in order, as written) and the signed checkpoints covering those rows. The
 * API signs it with its own Ed25519 key; `auditstream export verify` checks a file against it.
 */
export const MANIFEST_TYPE = 'auditstream.export-manifest';
export const MANIFEST_VERSION = 1;

/** One Kafka partition the exported rows came from. */
export interface ManifestCoverage {
  topic: string;
  partition: number;
  /** Exported rows from this partition. */
  rows: number;
  /** Highest Kafka offset among them (decimal text: offsets are 64-bit). */
  max_offset: string;
  /** The partition's latest stored checkpoint, verbatim, when its last_offset >= max_offset; null when none covers the rows yet. */
  checkpoint: Checkpoint | null;
}

export interface ManifestDigest {
  algorithm: 'sha256';
  /** SHA-256 (hex) of the export body exactly as written: the CSV header row, then every row, bytes as sent. */
  body_sha256: string;
  body_bytes: number;
  /** SHA-256 (hex) of the CSV header row (null for NDJSON). */
  header_sha256: string | null;
  /** Diagnostic only (order-free): the sum mod 2^32 of CRC-32(row) over the rows, 8 hex digits. */
  rows_crc32_sum: string;
}

export interface ExportManifestPayload {
  type: typeof MANIFEST_TYPE;
  v: typeof MANIFEST_VERSION;
  export_id: string;
  /** When the export finished (RFC 3339, UTC). */
  created_at: string;
  /** The credential: kind api_key (id = the key id) or jwt (id = the token subject). Never a secret. */
  principal: { kind: string; id: string; role: string };
  /** The tenants the export read: '*' (all) or the list. */
  tenants: '*' | string[];
  /** The request's parameters as validated (from, to and format included), no defaults added. */
  filter: Record<string, JcsValue>;
  /** The time range read, [from, to) of occurred_at, normalized to RFC 3339 with microseconds. */
  range: { from: string; to: string };
  format: 'ndjson' | 'csv';
  order: 'asc' | 'desc';
  row_count: number;
  digest: ManifestDigest;
  coverage: ManifestCoverage[];
  key_id: string;
}

export interface ExportManifest extends ExportManifestPayload {
  /** Base64 Ed25519 signature over manifestSigningInput (the payload without `signature`, RFC 8785 JSON). */
  signature: string;
}

export function manifestSigningInput(m: ExportManifestPayload): Buffer {
  const { signature: _drop, ...payload } = m as ExportManifest;
  return Buffer.from(canonicalJson(payload as unknown as JcsValue), 'utf8');
}

export function signManifest(key: SigningKey, payload: Omit<ExportManifestPayload, 'key_id' | 'type' | 'v'>): ExportManifest {
  const full: ExportManifestPayload = { type: MANIFEST_TYPE, v: MANIFEST_VERSION, ...payload, key_id: key.keyId };
  return { ...full, signature: signBytes(key, manifestSigningInput(full)) };
}

export type ManifestSignatureCheck = { ok: true } | { ok: false; problem: 'unknown_key' | 'bad_signature' };

export function verifyManifestSignature(m: ExportManifest, publicKeys: ReadonlyMap<string, KeyObject>): ManifestSignatureCheck {
  const key = publicKeys.get(m.key_id);
  if (!key) return { ok: false, problem: 'unknown_key' };
  let input: Buffer;
  try {
    input = manifestSigningInput(m);
  } catch {
    return { ok: false, problem: 'bad_signature' }; // a value JCS refuses (a float) was never signed
  }
  return verifyBytes(key, input, m.signature) ? { ok: true } : { ok: false, problem: 'bad_signature' };
}

// CRC-32 as zlib computes it (Node >= 20.15 has it natively; the table below for older 20.x).
const nativeCrc32 = (zlib as { crc32?: (data: string | Buffer) => number }).crc32;
const CRC_TABLE = Int32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c;
});
/** CRC-32 of a row: zlib's when Node has it, else crc32Table. */
export function crc32(data: string | Buffer): number {
  return nativeCrc32 ? nativeCrc32(data) : crc32Table(data);
}
export function crc32Table(data: string | Buffer): number {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let c = -1;
  for (let i = 0; i < buf.length; i++) c = (CRC_TABLE[(c ^ (buf[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

/**
 * The digest of an export, fed as it is written, in constant memory: `addBody` with every byte of
 * the body in order (in pieces of any size: the chunks sent, or a file as read), and beside it
 * `addHeader` with the CSV header record and `addRow` with each row (the same bytes, split into
 * records). Per row that is one CRC-32; the SHA-256 runs over the pieces (a per-row SHA-256 or
 * hash update cost the export a third of its speed).
 */
export class ExportDigest {
  private readonly body = createHash('sha256');
  private bytes = 0;
  private header: string | null = null;
  private crcSum = 0;
  rows = 0;

  addBody(piece: Buffer): void {
    this.body.update(piece);
    this.bytes += piece.length;
  }

  addHeader(text: string | Buffer): void {
    this.header = createHash('sha256').update(text).digest('hex');
  }

  addRow(text: string | Buffer): void {
    this.rows++;
    this.crcSum = (this.crcSum + crc32(text)) >>> 0;
  }

  /** Call once, after the last row. */
  result(): ManifestDigest {
    return {
      algorithm: 'sha256',
      body_sha256: this.body.digest('hex'),
      body_bytes: this.bytes,
      header_sha256: this.header,
      rows_crc32_sum: this.crcSum.toString(16).padStart(8, '0'),
    };
  }
}

/**
 * Splits an export body back into its records as they were written: NDJSON at each "\n" (JSON
 * escapes newlines inside strings); CSV at each "\n" outside a quoted field (RFC 4180: a quote
 * inside a quoted field is doubled, so toggling on every quote tracks the state). A last record
 * without its line end (a truncated or edited file) is still a record.
 */
export class RecordSplitter {
  private pending: Buffer[] = [];
  private inQuotes = false;

  constructor(
    private readonly csv: boolean,
    private readonly onRecord: (record: Buffer) => void,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    if (!this.csv) {
      for (let nl = chunk.indexOf(0x0a); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
        this.emit(chunk.subarray(start, nl + 1));
        start = nl + 1;
      }
    } else {
      for (let i = 0; i < chunk.length; i++) {
        const b = chunk[i];
        if (b === 0x22) this.inQuotes = !this.inQuotes;
        else if (b === 0x0a && !this.inQuotes) {
          this.emit(chunk.subarray(start, i + 1));
          start = i + 1;
        }
      }
    }
    if (start < chunk.length) this.pending.push(chunk.subarray(start));
  }

  end(): void {
    if (this.pending.length > 0) this.emit(Buffer.alloc(0));
  }

  private emit(tail: Buffer): void {
    const rec = this.pending.length === 0 ? tail : Buffer.concat([...this.pending, tail]);
    this.pending = [];
    this.onRecord(rec);
  }
}
