import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '@auditstream/core';
import { accountStatements, devUsersFragment, renderUsersFragment, sha256Hex } from './accounts.js';
import { capabilitiesFor } from './capabilities.js';

test('deploy/clickhouse/users.d/auditstream.xml is exactly what the renderer produces', () => {
  const shipped = readFileSync(join(repoRoot(), 'deploy', 'clickhouse', 'users.d', 'auditstream.xml'), 'utf8');
  assert.equal(shipped, devUsersFragment(), 'regenerate the file from devUsersFragment()');
  assert.match(shipped, /<auditstream_reader>\s*<readonly>2<\/readonly>/);
  assert.match(shipped, /<auditstream_ingest>\s*<readonly>0<\/readonly>\s*<allow_ddl>0<\/allow_ddl>/);
  assert.doesNotMatch(shipped, /<password>/, 'only hashes, never plaintext');
});

test('the fragment refuses bad names and hashes', () => {
  const h = sha256Hex('x');
  assert.throws(() => renderUsersFragment({ database: 'a', passwordSha256: { ingest: 'nothex', reader: h, admin: h } }), /hash for ingest/);
  assert.throws(() => renderUsersFragment({ database: 'a b', passwordSha256: { ingest: h, reader: h, admin: h } }), /plain identifier/);
  assert.throws(
    () => renderUsersFragment({ database: 'a', passwordSha256: { ingest: h, reader: h, admin: h }, names: { reader: '<x>' } }),
    /not a plain identifier/,
  );
});

test('modern servers get roles with per-table grants', () => {
  const h = sha256Hex('x');
  const s = accountStatements(capabilitiesFor('24.8.1'), { database: 'audit', passwordSha256: { ingest: h, reader: h, admin: h } });
  assert.ok(s.includes('GRANT INSERT ON `audit`.events TO auditstream_ingest_role'));
  assert.ok(s.includes('GRANT INSERT ON `audit`.events_hourly TO auditstream_ingest_role'), "the rollup's view writes as the inserting user");
  assert.ok(s.includes('GRANT SELECT ON `audit`.* TO auditstream_reader_role'));
  assert.ok(!s.some((x) => /GRANT (ALTER|DROP|ALL)[^\n]*ingest_role/.test(x)));
  assert.ok(s.includes(`CREATE USER IF NOT EXISTS auditstream_reader IDENTIFIED WITH sha256_hash BY '${h}'`));
  assert.throws(
    () => accountStatements(capabilitiesFor('18.16.1'), { database: 'audit', passwordSha256: { ingest: h, reader: h, admin: h } }),
    /no SQL access control/,
  );
});
