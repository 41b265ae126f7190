import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { generateKeyFiles } from './cli.js';
import { keyIdOfPem, loadPublicKeyFiles, loadSigningKeyFile } from './keys.js';

test('keys generate writes a 0600 private key and a public key, never over an existing one', () => {
  const dir = mkdtempSync(join(tmpdir(), 'auditstream-keys-'));
  const res = generateKeyFiles(dir);
  assert.match(res.keyId, /^[0-9a-f]{16}$/);
  assert.equal(statSync(res.privateKeyFile).mode & 0o777, 0o600);
  assert.equal(loadSigningKeyFile(res.privateKeyFile).keyId, res.keyId);
  assert.equal(keyIdOfPem(readFileSync(res.publicKeyFile, 'utf8')), res.keyId);
  assert.throws(() => generateKeyFiles(dir), /already exists/);
  const again = generateKeyFiles(dir, { force: true });
  assert.notEqual(again.keyId, res.keyId);
});

test('public keys load from files and directories (private keys there are skipped, not trusted)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'auditstream-pub-'));
  const a = generateKeyFiles(join(dir, 'a'));
  const b = generateKeyFiles(join(dir, 'b'));
  const keysDir = join(dir, 'trusted');
  generateKeyFiles(keysDir); // private.pem + public.pem
  writeFileSync(join(keysDir, 'old.pem'), readFileSync(a.publicKeyFile));
  const fromDir = loadPublicKeyFiles([keysDir]);
  assert.equal(fromDir.size, 2);
  assert.ok(fromDir.has(a.keyId));
  const both = loadPublicKeyFiles([a.publicKeyFile, b.publicKeyFile]);
  assert.deepEqual([...both.keys()].sort(), [a.keyId, b.keyId].sort());
  assert.throws(() => loadPublicKeyFiles([a.privateKeyFile]), /is a private key/);
  assert.throws(() => loadPublicKeyFiles([join(dir, 'missing.pem')]), /cannot read/);
});
