import type { Readable } from 'node:stream';
import { ProblemError } from '../problem.js';

/**
 * The collector's request body: a JSON array of events (application/json) or one event per
 * line (application/x-ndjson), UTF-8, at most `maxBytes` bytes and `maxEvents` events. Read
 * from the raw stream so the limits name the collector's own config keys and a too-large body
 * is refused before it is buffered (Content-Length first, then while reading). Errors are
 * problems that name the line or the limit, never a piece of the input (JSON.parse messages
 * quote it, so they are dropped).
 */
export type CollectorFormat = 'json' | 'ndjson';

export const COLLECTOR_MEDIA_TYPES: Readonly<Record<string, CollectorFormat>> = {
  'application/json': 'json',
  'application/x-ndjson': 'ndjson',
};

export interface CollectorBody {
  format: CollectorFormat;
  events: unknown[];
}

export interface BodyLimits {
  maxBytes: number;
  maxEvents: number;
}

const tooLarge = () => new ProblemError('payload_too_large', 'the request body is larger than api.collector_max_body_bytes');
const tooMany = (max: number) => new ProblemError('payload_too_large', `the request carries more than api.collector_max_events (${max}) events`);
const invalid = (parameter: string, message: string) =>
  new ProblemError('invalid_parameters', `${parameter} ${message}`, { errors: [{ parameter, in: 'body', message }] });

/** The format of a Content-Type header, or a 415 naming what is accepted (charset other than UTF-8 included). */
export function collectorFormat(contentType: string | undefined): CollectorFormat {
  const [type = '', ...params] = (contentType ?? '').split(';').map((s) => s.trim().toLowerCase());
  const format = COLLECTOR_MEDIA_TYPES[type];
  const charset = params
    .find((p) => p.startsWith('charset='))
    ?.slice(8)
    .replace(/"/g, '');
  if (!format || (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8'))
    throw new ProblemError(
      'unsupported_media_type',
      'the request body must be application/json (an array of events) or application/x-ndjson (one event per line), in UTF-8',
    );
  return format;
}

export async function readLimited(stream: Readable, declaredLength: string | undefined, maxBytes: number): Promise<Buffer> {
  if (declaredLength !== undefined && Number(declaredLength) > maxBytes) throw tooLarge();
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of stream) {
    n += (chunk as Buffer).length;
    if (n > maxBytes) throw tooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, n);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decode(bytes: Buffer): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw invalid('body', 'is not valid UTF-8');
  }
}

export function parseCollectorBody(bytes: Buffer, format: CollectorFormat, limits: BodyLimits): CollectorBody {
  if (bytes.length > limits.maxBytes) throw tooLarge();
  const text = decode(bytes);
  if (text.trim() === '') throw invalid('body', 'holds no event');
  const events = format === 'json' ? parseArray(text) : parseLines(text, limits.maxEvents);
  if (events.length === 0) throw invalid('body', 'holds no event');
  if (events.length > limits.maxEvents) throw tooMany(limits.maxEvents);
  return { format, events };
}

function parseArray(text: string): unknown[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalid('body', 'is not valid JSON');
  }
  if (!Array.isArray(value)) throw invalid('body', 'must be a JSON array of events (or send application/x-ndjson)');
  return value;
}

/** NDJSON: blank lines (a trailing newline, CRLF endings) are skipped; lines count from 1. */
function parseLines(text: string, maxEvents: number): unknown[] {
  const events: unknown[] = [];
  let start = 0;
  for (let line = 1; start <= text.length; line++) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const raw = text.slice(start, end).trim();
    start = end + 1;
    if (raw === '') continue;
    if (events.length === maxEvents) throw tooMany(maxEvents);
    try {
      events.push(JSON.parse(raw));
    } catch {
      throw invalid(`line ${line}`, 'is not valid JSON');
    }
  }
  return events;
}
