import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProblemError } from './problem.js';
import { can, type Principal, requirePermission, resolveScope, scopeLabel } from './scope.js';

const auditor: Principal = { kind: 'api_key', id: 'k1', role: 'auditor', tenants: ['acme', 'beta'] };
const allAuditor: Principal = { kind: 'jwt', id: 'sub', role: 'auditor', tenants: '*' };
const admin: Principal = { kind: 'api_key', id: 'k2', role: 'admin', tenants: ['acme'] };
const service: Principal = { kind: 'api_key', id: 'k3', role: 'service', tenants: ['acme'] };
const forbidden = (err: unknown) => err instanceof ProblemError && err.status === 403;

test('roles: auditors read and export, admins everything, services nothing', () => {
  assert.deepEqual(
    ['events:read', 'events:export', 'alerts:read', 'integrity:verify'].map((p) => can(auditor, p as never)),
    [true, true, false, false],
  );
  assert.deepEqual(
    ['events:read', 'events:export', 'alerts:read', 'integrity:verify'].map((p) => can(admin, p as never)),
    [true, true, true, true],
  );
  assert.deepEqual(
    ['events:read', 'events:export', 'alerts:read', 'integrity:verify'].map((p) => can(service, p as never)),
    [false, false, false, false],
  );
  assert.throws(() => requirePermission(service, 'events:read'), forbidden);
  assert.throws(() => requirePermission(auditor, 'alerts:read'), forbidden);
  requirePermission(admin, 'integrity:verify');
});

test('tenant scoping: inside the list narrows, outside is 403, absent means every tenant of the credential', () => {
  assert.deepEqual(resolveScope(auditor, 'beta'), { all: false, tenants: ['beta'] });
  assert.deepEqual(resolveScope(auditor, undefined), { all: false, tenants: ['acme', 'beta'] });
  for (const t of ['gamma', 'ACME', 'acme ', "acme' OR '1'='1", '*', '', 'acme,beta'])
    assert.throws(
      () => resolveScope(auditor, t),
      (err: unknown) => forbidden(err) && (err as ProblemError).errors?.[0]?.parameter === 'tenant',
      t,
    );
  assert.deepEqual(resolveScope(allAuditor, undefined), { all: true });
  assert.deepEqual(resolveScope(allAuditor, 'gamma'), { all: false, tenants: ['gamma'] });
  // Admins read every tenant whatever their list says.
  assert.deepEqual(resolveScope(admin, undefined), { all: true });
  assert.deepEqual(resolveScope(admin, 'zeta'), { all: false, tenants: ['zeta'] });
  // An empty list is no tenant, never "all".
  assert.throws(() => resolveScope({ ...auditor, tenants: [] }, undefined), forbidden);
  assert.equal(scopeLabel({ all: true }), '*');
  assert.equal(scopeLabel({ all: false, tenants: ['a', 'b'] }), 'a,b');
});
