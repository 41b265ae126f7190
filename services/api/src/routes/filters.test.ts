import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StoredEvent } from '@auditstream/clickhouse';
import { ProblemError } from '../problem.js';
import type { Principal } from '../scope.js';
import { eventQueryFrom, visibleToPrincipal } from './filters.js';

const range = { from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z' };
const viewer = (fixed: Principal['fixed']): Principal => ({ kind: 'viewer_token', id: 'vt_1', role: 'auditor', tenants: ['acme'], fixed });
const refused = (fn: () => unknown, parameter: string) =>
  assert.throws(fn, (e: unknown) => e instanceof ProblemError && e.status === 403 && e.errors?.[0]?.parameter === parameter);

test('a viewer token\u2019s fixed filters are applied on top of the request; repeating them is fine, changing them is 403', () => {
  const p = viewer({ actor_id: 'alice', outcome: 'failure' });
  const { query, scope } = eventQueryFrom({ ...range }, p, 86_400);
  assert.deepEqual(scope, { all: false, tenants: ['acme'] });
  assert.equal(query.actor_id, 'alice');
  assert.equal(query.outcome, 'failure');
  assert.equal(eventQueryFrom({ ...range, actor_id: 'alice', action: 'auth.login' }, p, 86_400).query.action, 'auth.login');
  refused(() => eventQueryFrom({ ...range, actor_id: 'bob' }, p, 86_400), 'actor_id');
  refused(() => eventQueryFrom({ ...range, tenant: 'beta' }, p, 86_400), 'tenant');
});

test('a fixed action_prefix admits an action or a narrower prefix under it, nothing outside', () => {
  const p = viewer({ action_prefix: 'auth.' });
  assert.equal(eventQueryFrom({ ...range, action_prefix: 'auth.mfa' }, p, 86_400).query.action_prefix, 'auth.mfa');
  const withAction = eventQueryFrom({ ...range, action: 'auth.login' }, p, 86_400).query;
  assert.deepEqual([withAction.action, withAction.action_prefix], ['auth.login', 'auth.']);
  refused(() => eventQueryFrom({ ...range, action_prefix: 'user.' }, p, 86_400), 'action_prefix');
  refused(() => eventQueryFrom({ ...range, action: 'user.login' }, p, 86_400), 'action');
});

test('single events: visible only inside the fixed filters; other credentials see everything in scope', () => {
  const event = (actor: string, action: string) =>
    ({ event: { actor: { id: actor, type: 'user', ip: null }, action, resource: null } }) as unknown as StoredEvent;
  assert.equal(visibleToPrincipal(viewer({ actor_id: 'alice' }), event('alice', 'auth.login')), true);
  assert.equal(visibleToPrincipal(viewer({ actor_id: 'alice' }), event('bob', 'auth.login')), false);
  assert.equal(visibleToPrincipal(viewer({ action_prefix: 'auth.' }), event('bob', 'auth.login')), true);
  assert.equal(visibleToPrincipal(viewer({ action_prefix: 'auth.' }), event('bob', 'user.login')), false);
  assert.equal(visibleToPrincipal(viewer({ resource_id: 'r1' }), event('bob', 'user.login')), false);
  assert.equal(visibleToPrincipal({ kind: 'api_key', id: 'k', role: 'auditor', tenants: ['acme'] }, event('bob', 'user.login')), true);
});
