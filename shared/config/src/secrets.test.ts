import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { AuditstreamError } from '@auditstream/core';
import { loadConfig } from './load.js';
import { configSchema } from './schema.js';
import { resolveSecret } from './secrets.js';

const SECRET = 'cfg-secret-4f1d9a7be2c84d51a0e6';
const dir = mkdtempSync(join(tmpdir(), 'config-secrets-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The error thrown by fn, with its message, field and every nested cause message flattened. */
function errorText(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    let text = '';
    for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) text += `${(e as Error).message}\n${JSON.stringify(e)}\n`;
    return text;
  }
  assert.fail('expected an error');
}

test('a YAML syntax error names the file and position but never quotes the line (which may hold a secret)', () => {
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, `kafka:\n  sasl_password: ${SECRET}: oops\n`);
  const text = errorText(() => loadConfig(configSchema, { file, env: {} }));
  assert.match(text, /bad\.yaml is not valid YAML or JSON: .+ at line 2, column \d+/);
  assert.ok(!text.includes(SECRET), text);
});

test('an invalid secret value is reported by key, without its value', () => {
  for (const env of [
    { AUDITSTREAM_API__CURSOR_SECRET: SECRET.slice(0, 20) }, // too short
    { AUDITSTREAM_KAFKA__SASL_MECHANISM: SECRET }, // not an enum value
    { AUDITSTREAM_CLICKHOUSE__URL: `http://u:${SECRET}@` }, // not a URL
    { AUDITSTREAM_KAFKA__REQUEST_TIMEOUT_MS: SECRET }, // not a number
  ]) {
    const text = errorText(() => loadConfig(configSchema, { env }));
    const key = Object.keys(env)[0] as string;
    const dotted = key.replace('AUDITSTREAM_', '').toLowerCase().replace('__', '.');
    assert.ok(text.includes(dotted), `${dotted} named in: ${text}`);
    assert.ok(!text.includes(SECRET.slice(0, 20)), `value leaked for ${key}: ${text}`);
  }
});

test('*_file variants: the file wins, a trailing newline is dropped, an unreadable file names the key', () => {
  const file = join(dir, 'pw');
  writeFileSync(file, `${SECRET}\n`, { mode: 0o600 });
  assert.equal(resolveSecret('inline', file, 'clickhouse.password'), SECRET);
  assert.equal(resolveSecret('inline', undefined, 'clickhouse.password'), 'inline');
  assert.throws(
    () => resolveSecret(undefined, join(dir, 'missing'), 'kafka.sasl_password'),
    (err: unknown) => err instanceof AuditstreamError && err.field === 'kafka.sasl_password_file',
  );
  // Every secret key of the schema has a *_file variant.
  const cfg = loadConfig(configSchema, { env: { AUDITSTREAM_KAFKA__SASL_PASSWORD_FILE: file, AUDITSTREAM_CLICKHOUSE__PASSWORD_FILE: file } });
  assert.equal(cfg.kafka.sasl_password_file, file);
  assert.equal(cfg.clickhouse.password_file, file);
});
