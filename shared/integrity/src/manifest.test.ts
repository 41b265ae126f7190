import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { signCheckpoint } from './checkpoint.js';
import { generateSigningKey, loadPublicKeys, loadSigningKey } from './keys.js';
import { crc32, crc32Table, ExportDigest, type ExportManifest, RecordSplitter, signManifest, verifyManifestSignature } from './manifest.js';
import { exportCheckExit, parseManifest, verifyExportFile } from './manifest-verify.js';

const apiPair = generateSigningKey();
const apiKey = loadSigningKey(apiPair.privatePem, 'test');
const trusted = loadPublicKeys([apiPair.publicPem]);
const ckPair = generateSigningKey();
const ckKey = loadSigningKey(ckPair.privatePem, 'test');

const ndjsonRows = Array.from({ length: 6 }, (_, i) => `${JSON.stringify({ event_id: `e${i}`, attributes: { note: i === 2 ? 'line\nbreak' : 'x' } })}\n`);
const csvHeader = 'event_id,attributes\r\n';
// Quoted fields with a comma, doubled quotes and a line break inside: one record each.
const csvRows = ['e0,"{""a"":""1,2""}"\r\n', 'e1,"multi\r\nline"\r\n', 'e2,plain\r\n', 'e3,"x ""quoted"" y"\r\n'];

function manifestOf(format: 'ndjson' | 'csv', rows: string[], key = apiKey): ExportManifest {
  const d = new ExportDigest();
  if (format === 'csv') d.addHeader(csvHeader);
  for (const r of rows) d.addRow(r);
  d.addBody(Buffer.from((format === 'csv' ? csvHeader : '') + rows.join(''), 'utf8'));
  return signManifest(key, {
    export_id: '0193b1c2-0000-7000-8000-000000000001',
    created_at: '2026-12-03T04:00:00.000Z',
    principal: { kind: 'api_key', id: 'k_test', role: 'auditor' },
    tenants: ['acme'],
    filter: { from: '2026-12-01T00:00:00Z', to: '2026-12-02T00:00:00Z', tenant: 'acme', format },
    range: { from: '2026-12-01T00:00:00.000000Z', to: '2026-12-02T00:00:00.000000Z' },
    format,
    order: 'asc',
    row_count: d.rows,
    digest: d.result(),
    coverage: [
      {
        topic: 'audit.events',
        partition: 0,
        rows: d.rows,
        max_offset: '41',
        checkpoint: signCheckpoint(ckKey, {
          topic: 'audit.events',
          partition: 0,
          last_offset: '50',
          chain_seq: '51',
          chain_head: 'ab'.repeat(32),
          created_at_s: 1_764_720_000,
          prev_checkpoint_hash: '0'.repeat(64),
        }),
      },
    ],
  });
}

/** The file as several odd-sized chunks, so records span chunk boundaries. */
async function* chunks(text: string): AsyncGenerator<Buffer> {
  const buf = Buffer.from(text, 'utf8');
  for (let i = 0; i < buf.length; i += 7) yield buf.subarray(i, i + 7);
}

async function check(format: 'ndjson' | 'csv', manifest: ExportManifest, rows: string[], opts: { header?: string } = {}) {
  const body = (format === 'csv' ? (opts.header ?? csvHeader) : '') + rows.join('');
  return verifyExportFile({ file: chunks(body), manifest, manifestKeys: trusted, checkpointKeys: loadPublicKeys([ckPair.publicPem]) });
}

const kinds = (c: { problems: { kind: string }[] }) => c.problems.map((p) => p.kind);

for (const [format, rows] of [
  ['ndjson', ndjsonRows],
  ['csv', csvRows],
] as const) {
  describe(`export manifest, ${format}`, () => {
    const m = manifestOf(format, [...rows]);

    test('the untouched file verifies (exit 0), its checkpoint too', async () => {
      const c = await check(format, m, [...rows]);
      assert.deepEqual(kinds(c), []);
      assert.equal(c.file.rows, rows.length);
      assert.equal(c.covered, 1);
      assert.equal(exportCheckExit(c), 0);
    });

    test('an omitted row is named as omitted (exit 1)', async () => {
      const c = await check(
        format,
        m,
        rows.filter((_, i) => i !== 1),
      );
      assert.deepEqual(kinds(c), ['rows_omitted']);
      assert.match(c.problems[0]?.detail ?? '', /1 row omitted: the file has \d+, the export had \d+/);
      assert.equal(exportCheckExit(c), 1);
    });

    test('an added row is named as added', async () => {
      const c = await check(format, m, [...rows.slice(0, 2), rows[0] as string, ...rows.slice(2)]);
      assert.deepEqual(kinds(c), ['rows_added']);
      assert.equal(exportCheckExit(c), 1);
    });

    test('a swapped pair is named as reordered', async () => {
      const swapped = [...rows];
      [swapped[1], swapped[2]] = [swapped[2] as string, swapped[1] as string];
      const c = await check(format, m, swapped);
      assert.deepEqual(kinds(c), ['rows_reordered']);
      assert.equal(exportCheckExit(c), 1);
    });

    test('an altered row (one character) is named as altered', async () => {
      const altered = [...rows];
      altered[2] = (altered[2] as string).replace('e2', 'e9');
      const c = await check(format, m, altered);
      assert.deepEqual(kinds(c), ['rows_altered']);
    });

    test('a missing final line end is an alteration, not a match', async () => {
      const c = await check(format, m, [...rows.slice(0, -1), (rows.at(-1) as string).replace(/\r?\n$/, '')]);
      assert.deepEqual(kinds(c), ['rows_altered']);
    });

    test('a manifest signed by another key is untrusted (exit 4), the rows are not judged', async () => {
      const other = loadSigningKey(generateSigningKey().privatePem, 'other');
      const c = await check(format, manifestOf(format, [...rows], other), [...rows]);
      assert.deepEqual(kinds(c), ['unknown_key']);
      assert.equal(exportCheckExit(c), 4);
      // The same, keeping the trusted key id: the signature fails.
      const forged = { ...manifestOf(format, [...rows], other), key_id: apiKey.keyId };
      assert.deepEqual(kinds(await check(format, forged, [...rows])), ['bad_signature']);
    });

    test('an altered manifest (row count, digest, filter, checkpoint) does not verify', async () => {
      const edits: ((x: ExportManifest) => void)[] = [
        (x) => {
          x.row_count -= 1;
        },
        (x) => {
          x.digest.body_sha256 = '0'.repeat(64);
        },
        (x) => {
          x.filter.tenant = 'beta';
        },
        (x) => {
          (x.coverage[0] as { max_offset: string }).max_offset = '99';
        },
      ];
      for (const edit of edits) {
        const x = structuredClone(m);
        edit(x);
        assert.equal(verifyManifestSignature(x, trusted).ok, false);
        assert.deepEqual(kinds(await check(format, x, [...rows])), ['bad_signature']);
      }
    });
  });
}

test('a CSV header edit is named, and a checkpoint not signed by a trusted checkpoint key is reported', async () => {
  const m = manifestOf('csv', [...csvRows]);
  assert.deepEqual(kinds(await check('csv', m, [...csvRows], { header: 'event_id,attrs\r\n' })), ['header_altered']);
  const c = await verifyExportFile({ file: chunks(csvHeader + csvRows.join('')), manifest: m, manifestKeys: trusted, checkpointKeys: trusted });
  assert.deepEqual(kinds(c), ['checkpoint_untrusted']);
});

test('the record splitter cuts CSV only outside quotes and keeps a trailing partial record', () => {
  const got: string[] = [];
  const s = new RecordSplitter(true, (r) => got.push(r.toString('utf8')));
  s.push(Buffer.from('a,"b\n'));
  s.push(Buffer.from('c"\r\nd,e\r\nf'));
  s.end();
  assert.deepEqual(got, ['a,"b\nc"\r\n', 'd,e\r\n', 'f']);
});

test('parseManifest refuses what is not a manifest, naming what is missing', () => {
  assert.throws(() => parseManifest('nope'), /not JSON/);
  assert.throws(() => parseManifest('{"type":"x"}'), /is not an auditstream.export-manifest v1/);
  const m = manifestOf('ndjson', ndjsonRows);
  assert.deepEqual(parseManifest(JSON.stringify(m)), m);
});

test('rows_crc32_sum is the sum mod 2^32 of zlib CRC-32 of each row; the body hash and size are over every byte (the documented definitions)', () => {
  const rows = Array.from({ length: 5000 }, (_, i) => `{"n":${i},"é":"${'x'.repeat(i % 97)}"}\n`);
  const d = new ExportDigest();
  d.addHeader('h\r\n');
  for (const row of rows) d.addRow(row);
  // The body in pieces cut anywhere (mid-row, mid-character): the hash is of the bytes, not the cuts.
  const all = Buffer.from(`h\r\n${rows.join('')}`, 'utf8');
  for (let i = 0; i < all.length; i += 4093) d.addBody(all.subarray(i, i + 4093));
  const r = d.result();
  // An independent CRC-32 (bitwise, no table) over the UTF-8 bytes.
  const crc = (b: Buffer) => {
    let c = 0xffffffff;
    for (const byte of b) {
      c ^= byte;
      for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
    }
    return (c ^ 0xffffffff) >>> 0;
  };
  const sum = rows.reduce((s, row) => (s + crc(Buffer.from(row, 'utf8'))) % 2 ** 32, 0);
  assert.equal(r.rows_crc32_sum, sum.toString(16).padStart(8, '0'));
  const body = Buffer.from(`h\r\n${rows.join('')}`, 'utf8');
  assert.equal(r.body_sha256, createHash('sha256').update(body).digest('hex'));
  assert.equal(r.body_bytes, body.length);
  assert.equal(r.header_sha256, createHash('sha256').update('h\r\n').digest('hex'));
  assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926, 'the CRC-32 check value');
  // The fallback for Node versions without zlib.crc32 agrees.
  assert.equal(crc32Table('123456789'), 0xcbf43926);
  for (const row of rows.slice(0, 50)) assert.equal(crc32Table(row), crc(Buffer.from(row, 'utf8')));
});
