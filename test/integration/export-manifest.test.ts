import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createApiKey } from '@auditstream/api';
import { type ExportManifest, generateKeyFiles, generateSigningKey, loadSigningKey, RecordSplitter, signManifest } from '@auditstream/integrity';
import { type AuditProducer, createAuditProducer } from '@auditstream/producer';
import { type Child, createTestEnv, type IngestChild, runCli, spawnCli, spawnIngest, type TestEnv, waitFor, waitForStored } from '@auditstream/test';

// Signed export manifests against the real stack: events published through the SDK, stored by the
// real `auditstream ingest` (hash chains, checkpoints every 5 events), exported by the real
// `auditstream api` process (its manifest key from api.export_manifest_signing_key_file), and checked
// by the real `auditstream export verify`: the untouched file verifies, each tampering fails with
// its own message and exit code, and the manifest read is itself on record.

const N = 30;

/**
 * An independent verifier written from docs/integrity.md#export-manifests alone: Python's standard
 * library and the openssl CLI (as the auditor script there), no auditstream code.
 */
const PYTHON_VERIFIER = String.raw`
import base64, hashlib, json, subprocess, sys, tempfile, zlib
path, manifest_path, pub = sys.argv[1:4]
m = json.load(open(manifest_path, encoding='utf-8'))
sig = base64.b64decode(m.pop('signature'))
def jcs(v):
    if isinstance(v, dict):
        return '{' + ','.join(json.dumps(k, ensure_ascii=False) + ':' + jcs(v[k]) for k in sorted(v, key=lambda k: k.encode('utf-16-be'))) + '}'
    if isinstance(v, list):
        return '[' + ','.join(jcs(x) for x in v) + ']'
    return json.dumps(v, ensure_ascii=False)
der = subprocess.run(['openssl', 'pkey', '-pubin', '-in', pub, '-outform', 'DER'], capture_output=True, check=True).stdout
with tempfile.NamedTemporaryFile() as data, tempfile.NamedTemporaryFile() as sigfile:
    data.write(jcs(m).encode('utf-8')); data.flush()
    sigfile.write(sig); sigfile.flush()
    signed = subprocess.run(['openssl', 'pkeyutl', '-verify', '-pubin', '-inkey', pub, '-rawin', '-in', data.name, '-sigfile', sigfile.name], capture_output=True).returncode == 0
body = open(path, 'rb').read()
records, start, quoted = [], 0, False
for i, b in enumerate(body):
    if m['format'] == 'csv' and b == 0x22:
        quoted = not quoted
    elif b == 0x0A and not quoted:
        records.append(body[start:i + 1]); start = i + 1
if start < len(body):
    records.append(body[start:])
header = records.pop(0) if m['format'] == 'csv' and records else None
d = m['digest']
print(json.dumps({
    'key_id': hashlib.sha256(der).hexdigest()[:16] == m['key_id'],
    'signature': signed,
    'body': hashlib.sha256(body).hexdigest() == d['body_sha256'] and len(body) == d['body_bytes'],
    'header': (hashlib.sha256(header).hexdigest() if header is not None else None) == d['header_sha256'],
    'rows': len(records) == m['row_count'],
    'crc': '%08x' % (sum(zlib.crc32(r) for r in records) % 2**32) == d['rows_crc32_sum'],
}))
`;
let env: TestEnv;
let ingest: IngestChild | undefined;
let api: Child | undefined;
let producer: AuditProducer;
let dir: string;
let apiUrl: string;
let adminKey: string;
let publicKey: string;

before(async () => {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
  dir = mkdtempSync(join(tmpdir(), 'export-manifest-'));
  const keys = generateKeyFiles(join(dir, 'api-key'));
  publicKey = keys.publicKeyFile;
  env = await createTestEnv({
    partitions: 2,
    extraEnv: {
      AUDITSTREAM_INTEGRITY__CHECKPOINT_EVERY_EVENTS: '5',
      AUDITSTREAM_INTEGRITY__CHECKPOINT_INTERVAL_MS: '300',
      AUDITSTREAM_INGEST__BATCH_MAX_AGE_MS: '100',
    },
  });
  ingest = spawnIngest(env.env);
  api = spawnCli('api', ['api'], {
    ...env.env,
    AUDITSTREAM_API__PORT: '0',
    AUDITSTREAM_API__EXPORT_MANIFEST_SIGNING_KEY_FILE: keys.privateKeyFile,
    AUDITSTREAM_LOG__LEVEL: 'warn',
  });
  apiUrl = (await api.waitFor(/listening on (http:\/\/[^\s]+) /, 120_000))[1] as string;
  adminKey = (await createApiKey(env.ch, { role: 'admin', tenants: [] })).key;
  producer = createAuditProducer({ kafka: env.kafka, topic: env.topic, linger_ms: 5 });
  await producer.connect();
  for (let i = 0; i < N; i++)
    await producer.publish({
      tenant_id: env.tenant,
      actor: { id: `user-${i % 4}`, type: 'user' },
      action: 'document.read',
      category: 'resource_access',
      outcome: 'success',
      service: 'docs',
      resource: { type: 'document', id: `doc-${i}` },
      // Commas, quotes and line breaks: CSV rows with quoted fields spanning lines.
      attributes: { note: `row ${i}, "quoted"\nsecond line` },
    });
  await waitForStored(env, N, { timeoutMs: 120_000 });
});

after(async () => {
  await producer?.close();
  await api?.stop();
  await ingest?.stop();
  await env?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const range = () => `from=${new Date(Date.now() - 3_600_000).toISOString()}&to=${new Date(Date.now() + 3_600_000).toISOString()}`;

async function call(path: string): Promise<Response> {
  return fetch(`${apiUrl}${path}`, { headers: { authorization: `Bearer ${adminKey}` } });
}

/** One export of the test's events and its manifest, as a client gets them. */
async function exportWithManifest(format: 'ndjson' | 'csv'): Promise<{ body: Buffer; manifest: ExportManifest; raw: string }> {
  const r = await call(`/v1/export?${range()}&tenant=${env.tenant}&action=document.read&format=${format}`);
  assert.equal(r.status, 200);
  const body = Buffer.from(await r.arrayBuffer());
  const url = r.headers.get('x-manifest-url');
  assert.ok(url, 'the export names its manifest');
  const m = await call(url);
  assert.equal(m.status, 200);
  const raw = await m.text();
  return { body, manifest: JSON.parse(raw) as ExportManifest, raw };
}

function records(body: Buffer, csv: boolean): Buffer[] {
  const out: Buffer[] = [];
  const s = new RecordSplitter(csv, (r) => out.push(r));
  s.push(body);
  s.end();
  return out;
}

async function verify(name: string, body: Buffer | Buffer[], manifest: string) {
  const file = join(dir, `${name}.export`);
  const manifestFile = join(dir, `${name}.manifest.json`);
  writeFileSync(file, Array.isArray(body) ? Buffer.concat(body) : body);
  writeFileSync(manifestFile, manifest);
  return runCli('export-verify', ['export', 'verify', file, manifestFile, '--public-key', publicKey, '--checkpoint-key', env.signingKey.publicKeyFile], {});
}

for (const format of ['ndjson', 'csv'] as const) {
  describe(`export verify, ${format}`, () => {
    let exp: Awaited<ReturnType<typeof exportWithManifest>>;
    let recs: Buffer[];
    let head: Buffer[];

    before(async () => {
      // Checkpoints come every 5 events or 300 ms: wait until they cover every exported row.
      exp = await waitFor(
        'an export whose rows signed checkpoints cover',
        () => exportWithManifest(format),
        (e) => e.manifest.coverage.every((c) => c.checkpoint !== null),
        60_000,
        300,
      );
      const all = records(exp.body, format === 'csv');
      head = format === 'csv' ? all.slice(0, 1) : [];
      recs = format === 'csv' ? all.slice(1) : all;
    });

    test('the manifest names the export: principal, tenant, filter, range, rows, partitions and their checkpoints', () => {
      const m = exp.manifest;
      assert.equal(m.row_count, N);
      assert.equal(recs.length, N);
      assert.equal(m.principal.role, 'admin');
      assert.deepEqual(m.tenants, [env.tenant]);
      assert.deepEqual([m.filter.tenant, m.filter.action, m.filter.format], [env.tenant, 'document.read', format]);
      assert.equal(
        m.coverage.reduce((n, c) => n + c.rows, 0),
        N,
      );
      assert.ok(m.coverage.length >= 1 && m.coverage.every((c) => c.topic === env.topic && c.checkpoint?.key_id === env.signingKey.keyId));
    });

    test('the untouched file verifies (exit 0)', async () => {
      const r = await verify(`${format}-ok`, exp.body, exp.raw);
      assert.equal(r.code, 0, r.output);
      assert.match(r.output, new RegExp(`^OK: .* is exactly export ${exp.manifest.export_id} \\(${N} rows`, 'm'));
    });

    test('an independent Python verifier written from the docs agrees: the export verifies, an altered one does not', () => {
      const run = (name: string, body: Buffer, manifest: string) => {
        const file = join(dir, `${name}.py-export`);
        const manifestFile = join(dir, `${name}.py-manifest.json`);
        writeFileSync(file, body);
        writeFileSync(manifestFile, manifest);
        const r = spawnSync('python3', ['-c', PYTHON_VERIFIER, file, manifestFile, publicKey], { encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
        return JSON.parse(r.stdout) as Record<string, boolean>;
      };
      assert.deepEqual(run(`${format}-py-ok`, exp.body, exp.raw), { key_id: true, signature: true, body: true, header: true, rows: true, crc: true });
      const altered = Buffer.concat([...head, ...recs.slice(0, -1), Buffer.from((recs.at(-1) as Buffer).toString('utf8').replace('doc-', 'dok-'))]);
      assert.deepEqual(run(`${format}-py-altered`, altered, exp.raw), { key_id: true, signature: true, body: false, header: true, rows: true, crc: false });
      const edited = JSON.stringify({ ...exp.manifest, row_count: N + 1 });
      assert.equal(run(`${format}-py-edited`, exp.body, edited).signature, false);
    });

    test('an omitted row fails (exit 1), named', async () => {
      const r = await verify(`${format}-omitted`, [...head, ...recs.filter((_, i) => i !== 7)], exp.raw);
      assert.equal(r.code, 1, r.output);
      assert.match(r.output, new RegExp(`rows_omitted: 1 row omitted: the file has ${N - 1}, the export had ${N}`));
    });

    test('an added row fails, named', async () => {
      const r = await verify(`${format}-added`, [...head, ...recs, recs[3] as Buffer], exp.raw);
      assert.equal(r.code, 1, r.output);
      assert.match(r.output, /rows_added: 1 row added/);
    });

    test('a reordered pair fails, named', async () => {
      const swapped = [...recs];
      [swapped[4], swapped[5]] = [swapped[5] as Buffer, swapped[4] as Buffer];
      const r = await verify(`${format}-reordered`, [...head, ...swapped], exp.raw);
      assert.equal(r.code, 1, r.output);
      assert.match(r.output, /rows_reordered: rows reordered/);
    });

    test('an altered row fails, named', async () => {
      const altered = [...recs];
      altered[9] = Buffer.from((altered[9] as Buffer).toString('utf8').replace('doc-', 'dok-'));
      const r = await verify(`${format}-altered`, [...head, ...altered], exp.raw);
      assert.equal(r.code, 1, r.output);
      assert.match(r.output, /rows_altered: rows altered/);
    });

    test('a manifest signed by another key, or altered, is untrusted (exit 4)', async () => {
      const other = loadSigningKey(generateSigningKey().privatePem, 'attacker');
      const { signature: _s, key_id: _k, type: _t, v: _v, ...payload } = exp.manifest;
      const resigned = signManifest(other, { ...payload, row_count: N - 1 });
      const r = await verify(`${format}-other-key`, exp.body, JSON.stringify(resigned));
      assert.equal(r.code, 4, r.output);
      assert.match(r.output, /unknown_key: the manifest is signed by key [0-9a-f]{16}, which is not a trusted key/);
      const edited = JSON.stringify({ ...exp.manifest, row_count: N - 1 });
      const e = await verify(`${format}-edited`, exp.body, edited);
      assert.equal(e.code, 4, e.output);
      assert.match(e.output, /bad_signature: .* altered or signed by another key/);
    });
  });
}

test('manifest reads are on record (audit.query, resource export_manifest), another credential gets 404', async () => {
  const { manifest } = await exportWithManifest('ndjson');
  const auditor = (await createApiKey(env.ch, { role: 'auditor', tenants: [env.tenant] })).key;
  const other = await fetch(`${apiUrl}/v1/export/manifest?export_id=${manifest.export_id}`, { headers: { authorization: `Bearer ${auditor}` } });
  assert.equal(other.status, 404);
  const rows = await waitFor(
    'the self-audit event of the manifest read, stored',
    () =>
      env.ch.queryRows<{ action: string; outcome: string }>(
        `SELECT action, outcome FROM ${env.database}.events WHERE resource_type = 'export_manifest' AND resource_id = '${manifest.export_id}'`,
      ),
    (r) => r.length >= 2,
    60_000,
  );
  assert.deepEqual(rows.map((r) => [r.action, r.outcome]).sort(), [
    ['audit.query', 'failure'],
    ['audit.query', 'success'],
  ]);
});
