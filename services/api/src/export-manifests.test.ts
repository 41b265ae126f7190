import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type AuditEventInput, capabilitiesFor, layoutFor, toRow } from '@auditstream/clickhouse';
import { uuidv7 } from '@auditstream/core';
import { type ExportManifest, generateSigningKey, loadPublicKeys, loadSigningKey, signCheckpoint, verifyExportFile } from '@auditstream/integrity';
import { assertProblem, get, makeApp, range } from './app.test-helper.js';
import { createManifestStore } from './export-manifests.js';

const pair = generateSigningKey();
const manifestKey = loadSigningKey(pair.privatePem, 'test');
const trusted = loadPublicKeys([pair.publicPem]);
const layout = layoutFor(capabilitiesFor('18.16.1'));
const T0 = Date.parse('2024-05-01T01:00:00Z');
const checkpoint = signCheckpoint(loadSigningKey(generateSigningKey().privatePem, 'ck'), {
  topic: 'audit.events',
  partition: 0,
  last_offset: '10',
  chain_seq: '11',
  chain_head: 'cd'.repeat(32),
  created_at_s: 1_714_525_200,
  prev_checkpoint_hash: '0'.repeat(64),
});

function rows(): Record<string, unknown>[] {
  return [0, 1, 2].map((i) => {
    const e: AuditEventInput = {
      event_id: uuidv7(T0 + i),
      tenant_id: 'acme',
      occurred_at: (T0 + i) * 1000,
      actor: { id: `u${i}`, type: 'user' },
      action: 'auth.login',
      category: 'authentication',
      outcome: 'success',
      service: 'sso',
      attributes: { note: `a "quoted", multi\nline ${i}` },
    };
    // Partition 0 is covered by the checkpoint (offsets 5, 6); partition 1 (offset 99) is not.
    const row = toRow(
      e,
      { received_at: T0, kafka_topic: 'audit.events', kafka_partition: i < 2 ? 0 : 1, kafka_offset: i < 2 ? 5 + i : 99 },
      layout,
    ) as unknown as Record<string, unknown>;
    // As ClickHouse answers: DateTime columns as text.
    for (const c of ['occurred_at', 'received_at', 'ingested_at']) row[c] = new Date(Number(row[c]) * 1000).toISOString().slice(0, 19).replace('T', ' ');
    return row;
  });
}

const answer = (sql: string) => {
  if (sql.includes('checkpoints'))
    return sql.includes('`partition` = toUInt64(0)')
      ? [
          {
            ...checkpoint,
            lo: checkpoint.last_offset,
            cs: checkpoint.chain_seq,
            cat: checkpoint.created_at_s,
          },
        ]
      : [];
  return sql.includes('ORDER BY') ? rows() : [];
};

async function* bytes(body: string) {
  yield Buffer.from(body, 'utf8');
}

describe('GET /v1/export with a manifest key', () => {
  for (const format of ['ndjson', 'csv'] as const) {
    test(`${format}: the export names its manifest, which is signed, describes these bytes and names the covering checkpoint`, async () => {
      const { app, events } = makeApp({ manifestKey, answer });
      const r = await get(app, `/v1/export?${range}&tenant=acme&format=${format}`, 'ask_auditor');
      assert.equal(r.status, 200);
      const id = String(r.headers['x-export-id']);
      assert.equal(r.headers['x-manifest-url'], `/v1/export/manifest?export_id=${id}`);
      assert.equal(events.at(-1)?.attributes.export_id, id, 'the export self-audit event names the export id');

      const m = await get(app, String(r.headers['x-manifest-url']), 'ask_auditor');
      assert.equal(m.status, 200);
      const manifest = m.json() as unknown as ExportManifest;
      assert.deepEqual(
        { id: manifest.export_id, principal: manifest.principal, tenants: manifest.tenants, rows: manifest.row_count, format: manifest.format },
        { id, principal: { kind: 'api_key', id: 'aud1', role: 'auditor' }, tenants: ['acme'], rows: 3, format },
      );
      assert.deepEqual(manifest.filter, { from: '2024-05-01T00:00:00Z', to: '2024-05-02T00:00:00Z', tenant: 'acme', format });
      assert.deepEqual(manifest.range, { from: '2024-05-01T00:00:00.000000Z', to: '2024-05-02T00:00:00.000000Z' });
      assert.deepEqual(
        manifest.coverage.map((c) => [c.partition, c.rows, c.max_offset, c.checkpoint?.signature ?? null]),
        [
          [0, 2, '6', checkpoint.signature],
          [1, 1, '99', null],
        ],
      );
      const check = await verifyExportFile({ file: bytes(r.body), manifest, manifestKeys: trusted });
      assert.deepEqual(check.problems, []);
      // The manifest read is on record too, naming the export.
      const read = events.at(-1);
      assert.equal(read?.action, 'audit.query');
      assert.deepEqual(read?.resource, { type: 'export_manifest', id });
      assert.equal(read?.outcome, 'success');
    });
  }

  test('another credential, an unknown id: 404 (recorded); without a key: no headers and 501', async () => {
    const { app, events } = makeApp({ manifestKey, answer });
    const r = await get(app, `/v1/export?${range}&tenant=acme`, 'ask_auditor');
    assertProblem(await get(app, `/v1/export/manifest?export_id=${r.headers['x-export-id']}`, 'ask_admin'), 404);
    assert.deepEqual([events.at(-1)?.outcome, events.at(-1)?.reason], ['failure', 'not_found']);
    assertProblem(await get(app, '/v1/export/manifest?export_id=nope', 'ask_auditor'), 404);
    assertProblem(await get(app, '/v1/export/manifest', 'ask_auditor'), 400, 'export_id');

    const plain = makeApp({ answer });
    const e = await get(plain.app, `/v1/export?${range}&tenant=acme`, 'ask_auditor');
    assert.equal(e.status, 200);
    assert.equal(e.headers['x-export-id'], undefined);
    assertProblem(await get(plain.app, '/v1/export/manifest?export_id=x', 'ask_auditor'), 501);
    assert.equal(plain.events.at(-1)?.reason, 'not_configured');
  });
});

test('the manifest store keeps a manifest for its owner, until its TTL, at most max entries', () => {
  let now = 0;
  const store = createManifestStore({ ttlMs: 1000, maxEntries: 2, now: () => now });
  const m = (id: string) => ({ export_id: id }) as ExportManifest;
  store.put(m('a'), 'api_key:1');
  assert.equal(store.get('a', 'api_key:1')?.export_id, 'a');
  assert.equal(store.get('a', 'api_key:2'), undefined);
  store.put(m('b'), 'api_key:1');
  store.put(m('c'), 'api_key:1');
  assert.equal(store.get('a', 'api_key:1'), undefined, 'the oldest went beyond max entries');
  now = 999;
  assert.equal(store.get('c', 'api_key:1')?.export_id, 'c');
  now = 1000;
  assert.equal(store.get('c', 'api_key:1'), undefined, 'expired');
});
