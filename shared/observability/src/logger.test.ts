import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from './logger.js';

test('secret-looking keys are redacted at the top level and one level down (second line of defence)', () => {
  let out = '';
  const destination = new Writable({
    write(chunk, _enc, cb) {
      out += String(chunk);
      cb();
    },
  });
  const logger = createLogger({ service: 't', destination });
  const S = 'log-secret-9b7c1e';
  logger.info({
    password: S,
    kafka: { sasl_password: S, sasl: { password: S } },
    api: { cursor_secret: S, export_manifest_signing_key: S },
    integrity: { signing_key: S },
    encryption: { master_key: S },
    secret: S,
    headers: { authorization: S },
    req: { headers: { authorization: S, cookie: S } },
    ok: 'visible',
  });
  assert.ok(!out.includes(S), out);
  assert.match(out, /"ok":"visible"/);
  assert.match(out, /\[redacted\]/);
});
