import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { apiTlsOptions } from './app.js';
import { apiDefaults } from './config.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('api TLS: unset = plain HTTP; both files = HTTPS (TLS 1.2+)', () => {
  assert.equal(apiTlsOptions({}), undefined);
  const dir = mkdtempSync(join(tmpdir(), 'api-tls-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'c.pem'), 'CERT');
  writeFileSync(join(dir, 'k.pem'), 'KEY-SECRET-CONTENT');
  const o = apiTlsOptions({ tls_cert_file: join(dir, 'c.pem'), tls_key_file: join(dir, 'k.pem') });
  assert.equal(o?.cert.toString(), 'CERT');
  assert.equal(o?.minVersion, 'TLSv1.2');
});

test('api TLS: one file without the other, or an unreadable file, names the key and never the content', () => {
  // The pair is checked when the config is parsed.
  assert.throws(() => apiDefaults({ tls_cert_file: '/x.pem' }), { code: 'CONFIG_INVALID', field: 'api.tls_key_file' });
  assert.throws(() => apiDefaults({ tls_key_file: '/x.pem' }), { code: 'CONFIG_INVALID', field: 'api.tls_cert_file' });
  const dir = mkdtempSync(join(tmpdir(), 'api-tls-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'c.pem'), 'CERT');
  assert.throws(
    () => apiTlsOptions({ tls_cert_file: join(dir, 'c.pem'), tls_key_file: join(dir, 'missing.pem') }),
    (err: Error & { field?: string }) => err.message.includes('api.tls_key_file') && err.field === 'api.tls_key_file',
  );
});
