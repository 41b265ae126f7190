import type { EventRow } from '@auditstream/clickhouse';
import {
  type ChainContent,
  type ChainEntryFields,
  canonicalEntryText,
  entryHash,
  type PreparedEntry,
  prepareContent,
  preparedHash,
  sha256Hex,
} from './chain.js';
import { contentHashV2, FORMAT2_FIELDS, rowHashV2 } from './entry-v2.js';
import { prepareRow } from './fields.js';
import { canonicalJson, type JcsValue } from './jcs.js';

/**
 * The chain's entry formats (docs/integrity.md, "Entry formats"). Format 1 hashes RFC 8785 JSON
 * text of the fields; format 2 (the default) their RowBinary encodings, plus the producer's
 * sequence columns. Rows carry no format column: a verifier takes the format whose hash is the
 * stored one (the two formats' inputs can never be equal, see entry-v2.ts), so a chain may switch
 * formats at any entry, e.g. on upgrade.
 */
export const CHAIN_FORMATS = [1, 2] as const;
export type ChainFormat = (typeof CHAIN_FORMATS)[number];
export const DEFAULT_CHAIN_FORMAT: ChainFormat = 2;

/** The hash of `fields` (chain_seq and prev_hash included) in one format. Throws TypeError on fields no entry can have. */
export function entryHashIn(format: ChainFormat, fields: ChainEntryFields): string {
  return format === 2 ? contentHashV2(fields, fields.chain_seq, fields.prev_hash) : entryHash(fields);
}

export interface StoredEntryHash {
  /** The hash in the format that reproduces `stored`, else in the preferred format; '' when the fields hash in neither. */
  hash: string;
  /** The format of `hash`; undefined when it is ''. */
  format: ChainFormat | undefined;
}

/**
 * What a verifier recomputes for a stored entry: tries `prefer` first (pass the format of the
 * partition's previous entry, so a chain costs one hash per entry), then the other format.
 */
export function storedEntryHash(fields: ChainEntryFields, stored: string, prefer: ChainFormat = DEFAULT_CHAIN_FORMAT): StoredEntryHash {
  let first: StoredEntryHash = { hash: '', format: undefined };
  for (const format of prefer === 2 ? ([2, 1] as const) : ([1, 2] as const)) {
    let hash: string;
    try {
      hash = entryHashIn(format, fields);
    } catch {
      continue;
    }
    if (hash === stored) return { hash, format };
    if (first.format === undefined) first = { hash, format };
  }
  return first;
}

/**
 * One entry to chain, before its place in the chain is known: where it comes from (a row built
 * by toRow, or any ChainContent) and the identifiers the chainer checks. Hashed at whatever
 * place it lands, in either format.
 */
export interface ChainSource {
  kafka_topic: string;
  kafka_partition: number;
  kafka_offset: string;
  /** Lowercase. */
  event_id: string;
  row: EventRow | undefined;
  content: ChainContent | undefined;
  /** Format 1's text around chain_seq and prev_hash, built on first use. */
  v1: PreparedEntry | undefined;
}

export function sourceOfRow(row: EventRow): ChainSource {
  return {
    kafka_topic: row.kafka_topic,
    kafka_partition: row.kafka_partition,
    kafka_offset: row.kafka_offset,
    event_id: row.event_id.toLowerCase(),
    row,
    content: undefined,
    v1: undefined,
  };
}

export function sourceOfContent(content: ChainContent): ChainSource {
  return {
    kafka_topic: content.kafka_topic,
    kafka_partition: content.kafka_partition,
    kafka_offset: content.kafka_offset,
    event_id: typeof content.event_id === 'string' ? content.event_id.toLowerCase() : content.event_id,
    row: undefined,
    content,
    v1: undefined,
  };
}

/** The hash of `src` placed at `chainSeq` after `prevHash`, in `format`. */
export function hashSource(src: ChainSource, format: ChainFormat, chainSeq: bigint, prevHash: string): string {
  if (format === 2) return src.row ? rowHashV2(src.row, chainSeq, prevHash) : contentHashV2(src.content as ChainContent, chainSeq, prevHash);
  src.v1 ??= src.row ? prepareRow(src.row) : prepareContent(src.content as ChainContent);
  return preparedHash(src.v1, chainSeq.toString(), prevHash);
}

/**
 * An entry as a proof shows it (docs/integrity.md, "Proofs"): RFC 8785 JSON with `"v"` its format.
 * Format 1's is exactly the text it hashes; format 2's lists the fields it encodes.
 */
export function entryJson(format: ChainFormat, fields: ChainEntryFields): string {
  if (format === 1) return canonicalEntryText(fields);
  return canonicalJson({ ...(fields as unknown as Record<string, JcsValue>), v: 2 });
}

const FORMAT2_JSON_KEYS = new Set<string>([...FORMAT2_FIELDS.map(([k]) => k), 'chain_seq', 'prev_hash', 'v']);
const JSON_NUMBERS = ['kafka_partition', 'received_at_s'] as const;
const JSON_DECIMALS = ['chain_seq', 'kafka_offset', 'occurred_at_us', 'producer_seq'] as const;

/**
 * The hash of an entry shown as entryJson, placed after `prevHash`: format 1 hashes the text as
 * given, format 2 the encoding of its fields (exactly its format's keys, no other). Throws a
 * TypeError naming what is wrong when the text is neither.
 */
export function entryJsonHash(text: string, prevHash: string): string {
  let entry: unknown;
  try {
    entry = JSON.parse(text);
  } catch {
    throw new TypeError('the entry is not JSON');
  }
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw new TypeError('the entry is not a JSON object');
  const e = entry as Record<string, unknown>;
  if (e.v === 1) return sha256Hex(Buffer.concat([Buffer.from(prevHash, 'hex'), Buffer.from(text, 'utf8')]));
  if (e.v !== 2) throw new TypeError('the entry has no known format ("v" must be 1 or 2)');
  const keys = Object.keys(e);
  const odd = keys.find((k) => !FORMAT2_JSON_KEYS.has(k)) ?? [...FORMAT2_JSON_KEYS].find((k) => !Object.hasOwn(e, k));
  if (odd !== undefined) throw new TypeError(`the format 2 entry has a missing or unknown field: ${odd}`);
  // Typed as entryJson writes them (and as the Python checker of the docs requires): numbers where JSON holds them exactly.
  for (const k of JSON_NUMBERS) if (typeof e[k] !== 'number') throw new TypeError(`the format 2 entry's ${k} must be a JSON number`);
  for (const k of JSON_DECIMALS) if (typeof e[k] !== 'string') throw new TypeError(`the format 2 entry's ${k} must be decimal text`);
  return contentHashV2(e as unknown as ChainContent, e.chain_seq as string, prevHash);
}
