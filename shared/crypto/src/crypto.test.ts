import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AuditstreamError } from '@auditstream/core';
import { dataKey, decryptField, encryptField, parseEnvelope } from './envelope.js';
import { checkFieldPath, encryptEventFields, revealEventFields } from './fields.js';
import { createLocalKeyWrapper, loadMasterKey, parseMasterKey } from './key-wrapper.js';
import { liveKey, type ResolvedKey, type StoredSubjectKey } from './store.js';

const key = dataKey('k1', randomBytes(32));
const ctx = { tenant: 'acme', eventId: '0190a0b0-0000-7000-8000-000000000001', field: 'actor.ip' };

const failsWith = (code: string) => (err: unknown) => err instanceof AuditstreamError && err.code === code;

describe('field envelope', () => {
  it('round-trips and shows no clear text', () => {
    const enc = encryptField(key, ctx, '203.0.113.7');
    assert.match(enc, /^enc:v1:k1:[A-Za-z0-9_-]+$/);
    assert.ok(!enc.includes('203.0.113.7'));
    assert.equal(decryptField(key, ctx, enc), '203.0.113.7');
    assert.equal(decryptField(key, ctx, encryptField(key, ctx, 'ünïcødé ✓')), 'ünïcødé ✓');
  });

  it('is deterministic per (key, event, field, plaintext): re-delivery produces the same bytes', () => {
    assert.equal(encryptField(key, ctx, 'alice'), encryptField(key, ctx, 'alice'));
    const ivOf = (v: string) => parseEnvelope(v)?.blob.subarray(0, 12).toString('hex');
    // Other event, other field or other plaintext: another IV.
    assert.notEqual(ivOf(encryptField(key, ctx, 'alice')), ivOf(encryptField(key, { ...ctx, eventId: 'other' }, 'alice')));
    assert.notEqual(ivOf(encryptField(key, ctx, 'alice')), ivOf(encryptField(key, { ...ctx, field: 'actor.name' }, 'alice')));
    assert.notEqual(ivOf(encryptField(key, ctx, 'alice')), ivOf(encryptField(key, ctx, 'bob')));
  });

  it('fails when the AAD differs (other tenant, event or field)', () => {
    const enc = encryptField(key, ctx, 'alice');
    assert.throws(() => decryptField(key, { ...ctx, tenant: 'other' }, enc), failsWith('CRYPTO_DECRYPT_FAILED'));
    assert.throws(() => decryptField(key, { ...ctx, eventId: 'x' }, enc), failsWith('CRYPTO_DECRYPT_FAILED'));
    assert.throws(() => decryptField(key, { ...ctx, field: 'actor.name' }, enc), failsWith('CRYPTO_DECRYPT_FAILED'));
  });

  it('fails with the wrong key, even one claiming the same id', () => {
    const enc = encryptField(key, ctx, 'alice');
    assert.throws(() => decryptField(dataKey('k1', randomBytes(32)), ctx, enc), failsWith('CRYPTO_DECRYPT_FAILED'));
    assert.throws(() => decryptField(dataKey('k2', randomBytes(32)), ctx, enc), failsWith('CRYPTO_DECRYPT_FAILED'));
  });

  it('fails when any byte is altered, and names only the field', () => {
    const enc = encryptField(key, ctx, 'alice');
    const env = parseEnvelope(enc);
    assert.ok(env);
    for (const i of [0, 12, env.blob.length - 1]) {
      const b = Buffer.from(env.blob);
      b[i] = (b[i] as number) ^ 1;
      const tampered = `enc:v1:k1:${b.toString('base64url')}`;
      assert.throws(
        () => decryptField(key, ctx, tampered),
        (err: unknown) =>
          failsWith('CRYPTO_DECRYPT_FAILED')(err) && !(err as Error).message.includes('alice') && (err as AuditstreamError).field === 'actor.ip',
      );
    }
    assert.throws(() => decryptField(key, ctx, 'enc:v1:k1:AAAA'), failsWith('CRYPTO_ENVELOPE_INVALID'));
    assert.throws(() => decryptField(key, ctx, 'plain'), failsWith('CRYPTO_ENVELOPE_INVALID'));
  });
});

describe('key wrapping', () => {
  const master = randomBytes(32);
  const wctx = { tenant: 'acme', subject: 'u1', keyId: 'k1' };

  it('wraps and unwraps bound to tenant, subject and key id', async () => {
    const w = createLocalKeyWrapper({ keys: [master] });
    const dek = randomBytes(32);
    const wrapped = await w.wrap(dek, wctx);
    assert.ok(wrapped.startsWith(`${w.keyId}:`));
    assert.deepEqual(await w.unwrap(wrapped, wctx), dek);
    await assert.rejects(w.unwrap(wrapped, { ...wctx, subject: 'u2' }), failsWith('CRYPTO_UNWRAP_FAILED'));
    await assert.rejects(w.unwrap(wrapped, { ...wctx, keyId: 'k2' }), failsWith('CRYPTO_UNWRAP_FAILED'));
  });

  it('unwraps with a previous master key after rotation; refuses unknown master keys', async () => {
    const old = createLocalKeyWrapper({ keys: [master] });
    const wrapped = await old.wrap(Buffer.alloc(32, 7), wctx);
    const rotated = createLocalKeyWrapper({ keys: [randomBytes(32), master] });
    assert.notEqual(rotated.keyId, old.keyId);
    assert.deepEqual(await rotated.unwrap(wrapped, wctx), Buffer.alloc(32, 7));
    const other = createLocalKeyWrapper({ keys: [randomBytes(32)] });
    await assert.rejects(other.unwrap(wrapped, wctx), failsWith('CRYPTO_MASTER_KEY_UNKNOWN'));
  });

  it('parses master keys as hex, base64 or 32 raw bytes; errors name the key, never the value', () => {
    const k = randomBytes(32);
    assert.deepEqual(parseMasterKey(k.toString('hex'), 'encryption.master_key'), k);
    assert.deepEqual(parseMasterKey(`${k.toString('base64')}\n`, 'encryption.master_key'), k);
    assert.deepEqual(parseMasterKey(k, 'encryption.master_key_file'), k);
    assert.throws(
      () => parseMasterKey('too-short-secret', 'encryption.master_key'),
      (err: unknown) =>
        failsWith('CRYPTO_KEY_INVALID')(err) && (err as AuditstreamError).field === 'encryption.master_key' && !(err as Error).message.includes('too-short'),
    );
    const dir = mkdtempSync(join(tmpdir(), 'crypto-test-'));
    writeFileSync(join(dir, 'master.key'), `${k.toString('hex')}\n`);
    assert.deepEqual(loadMasterKey({ master_key_file: join(dir, 'master.key') }), k);
    assert.equal(loadMasterKey({}), undefined);
    assert.throws(() => loadMasterKey({ master_key_file: join(dir, 'missing') }), failsWith('CONFIG_UNREADABLE'));
  });
});

describe('event fields', () => {
  const event = () => ({
    tenant_id: 'acme',
    event_id: 'e1',
    actor: { id: 'u1', type: 'user', name: 'Alice', ip: '198.51.100.1' },
    reason: null,
    attributes: { email: 'alice@example.com', plan: 'pro' },
  });

  it('encrypts the configured fields only, idempotently, and reveals by permission', () => {
    const e = event();
    const fields = ['actor.name', 'actor.ip', 'attributes.email', 'reason'];
    assert.equal(encryptEventFields(e, fields, key), 3);
    assert.ok(e.actor.name.startsWith('enc:v1:k1:'));
    assert.equal(e.attributes.plan, 'pro');
    assert.equal(e.reason, null);
    const once = JSON.stringify(e);
    assert.equal(encryptEventFields(e, fields, key), 0);
    assert.equal(JSON.stringify(e), once);

    const live = new Map<string, ResolvedKey>([['k1', { status: 'live', key, tenant: 'acme', subject: 'u1' }]]);
    const opts = { mask: '***', erased: '[erased]', invalid: '[invalid]' };
    const hidden: string[] = [];
    const onHidden = (path: string, as: string) => hidden.push(`${path}:${as}`);
    const clear = JSON.parse(once);
    assert.equal(revealEventFields(clear, live, { ...opts, clear: true, onHidden }), 0);
    assert.deepEqual(clear, event());
    assert.equal(hidden.length, 0, 'clear values are not reported hidden');
    const masked = JSON.parse(once);
    revealEventFields(masked, live, { ...opts, clear: false, onHidden });
    assert.deepEqual(hidden.sort(), ['actor.ip:mask', 'actor.name:mask', 'attributes.email:mask']);
    hidden.length = 0;
    assert.equal(masked.actor.name, '***');
    assert.equal(masked.attributes.email, '***');
    assert.equal(masked.attributes.plan, 'pro');
    const erased = JSON.parse(once);
    revealEventFields(erased, new Map([['k1', { status: 'erased' }]]), { ...opts, clear: true, onHidden });
    assert.equal(erased.actor.ip, '[erased]');
    assert.ok(hidden.includes('actor.ip:erased'));
    hidden.length = 0;
    // A value copied into another row does not decrypt there.
    const moved = { ...JSON.parse(once), event_id: 'e2' };
    assert.equal(revealEventFields(moved, live, { ...opts, clear: true, onHidden }), 3);
    assert.equal(moved.actor.name, '[invalid]');
    assert.ok(hidden.includes('actor.name:invalid'));
  });

  it('attributes.* covers every attribute; bad paths are named', () => {
    const e = event();
    assert.equal(encryptEventFields(e, ['attributes.*'], key), 2);
    assert.equal(checkFieldPath('actor.id')?.includes('actor.id'), true);
    assert.equal(checkFieldPath('attributes.email'), undefined);
  });
});

describe('liveKey', () => {
  const k = (id: string, at: number): StoredSubjectKey => ({
    tenant_id: 't',
    subject_id: 's',
    key_id: id,
    wrapped_key: '',
    master_key_id: '',
    created_at_ms: at,
  });
  it('picks the earliest key (then the smallest id) created after the latest erasure', () => {
    assert.equal(liveKey([k('b', 10), k('a', 10), k('c', 5)], undefined)?.key_id, 'c');
    assert.equal(liveKey([k('b', 10), k('a', 10), k('c', 5)], 5)?.key_id, 'a');
    assert.equal(liveKey([k('c', 5)], 5), undefined);
  });
});
