import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from './load.js';
import { configSchema } from './schema.js';

const load = (env: Record<string, string>) => loadConfig(configSchema, { env });
const rejects = (env: Record<string, string>, field: string) =>
  assert.throws(
    () => load(env),
    (err: { code?: string; field?: string }) => err.code === 'CONFIG_INVALID' && err.field === field,
    field,
  );

test('cross-field rules are checked when the config is parsed, naming the key that is missing', () => {
  // OIDC: all three or none.
  rejects({ AUDITSTREAM_API__OIDC_JWKS_URL: 'https://idp.test/jwks', AUDITSTREAM_API__OIDC_ISSUER: 'https://idp.test' }, 'api.oidc_audience');
  rejects({ AUDITSTREAM_API__OIDC_AUDIENCE: 'auditstream' }, 'api.oidc_jwks_url');
  load({ AUDITSTREAM_API__OIDC_JWKS_URL: 'https://idp.test/jwks', AUDITSTREAM_API__OIDC_ISSUER: 'https://idp.test', AUDITSTREAM_API__OIDC_AUDIENCE: 'a' });
  // TLS: the certificate and its key together.
  rejects({ AUDITSTREAM_API__TLS_CERT_FILE: '/c.pem' }, 'api.tls_key_file');
  rejects({ AUDITSTREAM_API__TLS_KEY_FILE: '/k.pem' }, 'api.tls_cert_file');
});

test('alerting.sinks is a map here: every service accepts the sink keys, the alerting service checks them', () => {
  const cfg = load({ AUDITSTREAM_ALERTING__SINKS__WEBHOOK__ENABLED: 'true', AUDITSTREAM_ALERTING__SINKS__WEBHOOK__URL: 'http://h.test/' });
  assert.deepEqual(cfg.alerting.sinks.webhook, { enabled: 'true', url: 'http://h.test/' });
});
