import type { KeyObject } from 'node:crypto';
import { AuditstreamError } from '@auditstream/core';
import { verifyCheckpoint } from './checkpoint.js';
import { ExportDigest, type ExportManifest, MANIFEST_TYPE, MANIFEST_VERSION, RecordSplitter, verifyManifestSignature } from './manifest.js';

/** `auditstream export verify` exit codes. */
export const EXPORT_VERIFY_EXIT = { ok: 0, mismatch: 1, usage: 2, unverifiable: 3, untrusted: 4 } as const;

export type ExportProblem =
  | { kind: 'unknown_key' | 'bad_signature'; detail: string }
  | { kind: 'rows_omitted' | 'rows_added'; detail: string; rows: number }
  | { kind: 'rows_reordered' | 'rows_altered' | 'header_altered'; detail: string }
  | { kind: 'checkpoint_untrusted'; detail: string; topic: string; partition: number };

export interface ExportCheck {
  /** trusted: the manifest's signature verified with a trusted key. */
  trusted: boolean;
  /** The file is exactly the export the manifest describes. */
  matches: boolean;
  problems: ExportProblem[];
  file: { rows: number; bytes: number };
  /** Partitions whose rows a signed checkpoint covers / all partitions of the export. */
  covered: number;
  partitions: number;
}

/** Parses a manifest file's JSON, checking the shape enough to verify it (the signature checks the rest). */
export function parseManifest(text: string): ExportManifest {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch (cause) {
    throw new AuditstreamError('MANIFEST_INVALID', 'the manifest is not JSON', { cause, field: 'manifest' });
  }
  const o = m as Partial<ExportManifest> | null;
  const bad = (what: string) => new AuditstreamError('MANIFEST_INVALID', `the manifest ${what}`, { field: 'manifest' });
  if (!o || typeof o !== 'object') throw bad('is not an object');
  if (o.type !== MANIFEST_TYPE || o.v !== MANIFEST_VERSION) throw bad(`is not an ${MANIFEST_TYPE} v${MANIFEST_VERSION}`);
  if (typeof o.key_id !== 'string' || typeof o.signature !== 'string') throw bad('has no key_id or signature');
  if (!Number.isSafeInteger(o.row_count) || !o.digest || typeof o.digest.body_sha256 !== 'string') throw bad('has no row_count or digest');
  if (o.format !== 'ndjson' && o.format !== 'csv') throw bad('names no format (ndjson or csv)');
  if (!Array.isArray(o.coverage)) throw bad('has no coverage list');
  return o as ExportManifest;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * Checks an export file (its bytes, streamed) against a manifest: the signature first (a manifest
 * that does not verify says nothing about the file, so the rows are not judged), then the rows.
 * `checkpointKeys` (optional): the checkpoint public keys, to check the checkpoints the manifest carries.
 */
export async function verifyExportFile(input: {
  file: AsyncIterable<Buffer>;
  manifest: ExportManifest;
  manifestKeys: ReadonlyMap<string, KeyObject>;
  checkpointKeys?: ReadonlyMap<string, KeyObject> | undefined;
}): Promise<ExportCheck> {
  const m = input.manifest;
  const problems: ExportProblem[] = [];
  const covered = m.coverage.filter((c) => c.checkpoint !== null).length;
  const base = { covered, partitions: m.coverage.length };
  const sig = verifyManifestSignature(m, input.manifestKeys);
  if (!sig.ok) {
    problems.push(
      sig.problem === 'unknown_key'
        ? { kind: 'unknown_key', detail: `the manifest is signed by key ${m.key_id}, which is not a trusted key: signed by another key` }
        : {
            kind: 'bad_signature',
            detail: `the manifest's signature does not verify with trusted key ${m.key_id}: the manifest was altered or signed by another key`,
          },
    );
    return { trusted: false, matches: false, problems, file: { rows: 0, bytes: 0 }, ...base };
  }

  const digest = new ExportDigest();
  let first = m.format === 'csv';
  const splitter = new RecordSplitter(m.format === 'csv', (rec) => {
    if (first) {
      first = false;
      digest.addHeader(rec);
    } else digest.addRow(rec);
  });
  for await (const chunk of input.file) {
    digest.addBody(chunk);
    splitter.push(chunk);
  }
  splitter.end();
  const got = digest.result();
  const rows = digest.rows;

  if (m.format === 'csv' && got.header_sha256 !== m.digest.header_sha256)
    problems.push({ kind: 'header_altered', detail: 'the CSV header row differs from the exported one' });
  if (rows < m.row_count) {
    const n = m.row_count - rows;
    problems.push({ kind: 'rows_omitted', rows: n, detail: `${plural(n, 'row')} omitted: the file has ${rows}, the export had ${m.row_count}` });
  } else if (rows > m.row_count) {
    const n = rows - m.row_count;
    problems.push({ kind: 'rows_added', rows: n, detail: `${plural(n, 'row')} added: the file has ${rows}, the export had ${m.row_count}` });
  } else if (got.rows_crc32_sum !== m.digest.rows_crc32_sum) {
    problems.push({ kind: 'rows_altered', detail: `rows altered: the file has the export's ${plural(rows, 'row')}, but not with the same content` });
  } else if (got.body_sha256 !== m.digest.body_sha256 && problems.length === 0) {
    problems.push({ kind: 'rows_reordered', detail: `rows reordered: the file has the export's ${plural(rows, 'row')}, in another order` });
  }
  // The body hash is the proof; the rest only names what differs. Anything else that changed it
  // (a collision of the diagnostic sum aside) is still a mismatch.
  if (problems.length === 0 && got.body_sha256 !== m.digest.body_sha256)
    problems.push({ kind: 'rows_altered', detail: 'the file differs from the export (SHA-256 of the body does not match)' });

  if (input.checkpointKeys) {
    for (const c of m.coverage) {
      if (!c.checkpoint) continue;
      const check = verifyCheckpoint(c.checkpoint, input.checkpointKeys);
      if (!check.ok)
        problems.push({
          kind: 'checkpoint_untrusted',
          topic: c.topic,
          partition: c.partition,
          detail: `the checkpoint of ${c.topic}/${c.partition} in the manifest ${check.problem === 'unknown_key' ? `is signed by an untrusted key ${c.checkpoint.key_id}` : 'has a bad signature'}`,
        });
    }
  }
  return { trusted: true, matches: problems.length === 0, problems, file: { rows, bytes: got.body_bytes }, ...base };
}

/** The exit code of a check: 4 the manifest is not trustworthy, 1 the file does not match, 0 verified. */
export function exportCheckExit(c: ExportCheck): number {
  if (!c.trusted) return EXPORT_VERIFY_EXIT.untrusted;
  return c.matches ? EXPORT_VERIFY_EXIT.ok : EXPORT_VERIFY_EXIT.mismatch;
}

export function formatExportCheck(c: ExportCheck, m: ExportManifest, fileName: string): string {
  const who = `export ${m.export_id} (${m.row_count} rows, ${m.format}, ${m.range.from} .. ${m.range.to}) by ${m.principal.kind} ${m.principal.id}`;
  if (c.problems.length === 0)
    return [
      `OK: ${fileName} is exactly ${who}`,
      `  manifest signed by trusted key ${m.key_id}; ${c.covered} of ${plural(c.partitions, 'partition')} covered by a signed checkpoint`,
    ].join('\n');
  return [`FAILED: ${fileName} vs ${c.trusted ? who : `the manifest of export ${m.export_id}`}`, ...c.problems.map((p) => `  ${p.kind}: ${p.detail}`)].join(
    '\n',
  );
}
