import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AuditstreamError } from '@auditstream/core';
import { as, assertProblem, FROM, fakeVerifier, get, makeApp, range, TO } from './app.test-helper.js';
import { apiDefaults } from './config.js';
import type { SelfAuditEvent } from './plugins/audit-self.js';

// Unit tests of the HTTP layer with fakes (app.test-helper.ts).
// The real-server behaviour is in api.int.test.ts.

/** SQL with every quoted string literal removed: what is left is code. */
function codeOf(sqlText: string): string {
  return sqlText.replace(/'(?:[^'\\]|\\.)*'/g, "''");
}

describe('authentication and roles', () => {
  test('missing, malformed and unknown credentials are 401 with WWW-Authenticate', async () => {
    const { app, queries } = makeApp();
    for (const headers of [{}, { authorization: 'ask_admin' }, { authorization: 'Basic YTpi' }, as('ask_nope'), as('a.b.c'), { authorization: 'Bearer' }]) {
      const r = await app.inject({ url: `/v1/events?${range}`, headers });
      assertProblem({ status: r.statusCode, headers: r.headers, json: () => JSON.parse(r.body) }, 401);
      assert.match(String(r.headers['www-authenticate']), /^Bearer/);
    }
    // Parameters are not even looked at: an unauthenticated caller learns nothing.
    const r = await app.inject({ url: '/v1/events?bogus=1' });
    assert.equal(r.statusCode, 401);
    assert.equal(queries.length, 0);
  });

  test('roles: service reads nothing, auditors no alerts or integrity, admins everything; refusals are audited', async () => {
    const { app, events } = makeApp();
    assertProblem(await get(app, `/v1/events?${range}`, 'ask_service'), 403);
    assertProblem(await get(app, `/v1/export?${range}`, 'ask_service'), 403);
    assertProblem(await get(app, `/v1/alerts?${range}`, 'ask_auditor'), 403);
    const r = await app.inject({ method: 'POST', url: '/v1/integrity/verify', headers: as('ask_auditor'), payload: {} });
    assert.equal(r.statusCode, 403);
    assert.equal((await get(app, `/v1/alerts?${range}`, 'ask_admin')).status, 200);
    assert.equal((await get(app, `/v1/events?${range}`, 'ask_auditor')).status, 200);
    await new Promise((resolve) => setImmediate(resolve));
    const denied = events.filter((e) => e.outcome === 'denied');
    assert.equal(denied.length, 4);
    assert.deepEqual(
      denied.map((e) => [e.actor.id, e.action, e.reason]),
      [
        ['svc1', 'audit.query', 'role_not_allowed'],
        ['svc1', 'audit.export', 'role_not_allowed'],
        ['aud1', 'audit.query', 'role_not_allowed'],
        ['aud1', 'audit.query', 'role_not_allowed'],
      ],
    );
  });

  test('public endpoints need no credentials', async () => {
    const { app } = makeApp();
    for (const url of ['/healthz', '/readyz', '/metrics', '/openapi.json']) assert.equal((await app.inject({ url })).statusCode, 200, url);
  });
});

describe('tenant scoping', () => {
  test('a tenant outside the credential is 403 and never queried; no tenant means exactly its tenants', async () => {
    // Search keys answer one row, so the second step of a search (full rows by id) runs too.
    const { app, queries } = makeApp({
      answer: (q) => (q.includes('AS t_text') ? [{ t_text: '2024-05-01 00:00:01', t_us: 5, eid: '01900000-0000-7000-8000-000000000009' }] : []),
    });
    for (const url of [
      `/v1/events?${range}&tenant=gamma`,
      `/v1/stats/timeseries?${range}&tenant=gamma`,
      `/v1/stats/top?${range}&tenant=gamma&dimension=actor`,
      `/v1/export?${range}&tenant=gamma`,
      `/v1/events/01900000-0000-7000-8000-000000000001?tenant=gamma`,
    ]) {
      const p = assertProblem(await get(app, url, 'ask_auditor'), 403, 'tenant');
      assert.doesNotMatch(String(p.detail), /gamma/, 'the detail does not echo the tenant');
    }
    assert.equal(queries.length, 0);
    const scoped = async (url: string, condition: RegExp, times = 1) => {
      const before = queries.length;
      assert.equal((await get(app, url, 'ask_auditor')).status === 500, false);
      const sent = queries.slice(before);
      assert.ok(sent.length > 0, url);
      for (const q of sent) {
        assert.equal((q.match(new RegExp(condition, 'g')) ?? []).length, times, `${url}: ${q.slice(0, 400)}`);
        assert.doesNotMatch(q, /gamma/);
      }
      return sent;
    };
    const both = /`tenant_id` IN \('acme', 'beta'\)/;
    const search = await scoped(`/v1/events?${range}`, both);
    assert.equal(search.length, 3, 'rows per hour (to choose the window), the keys, then the rows of those keys');
    assert.match(search[0] as string, /events_hourly/);
    assert.match(search[2] as string, /event_id IN \(toUUID\('01900000-0000-7000-8000-000000000009'\)\)/);
    const beta = await scoped(`/v1/events?${range}&tenant=beta`, /`tenant_id` = 'beta'/);
    for (const q of beta) assert.doesNotMatch(q, /acme/);
    // Stats: the query's own condition, and the two reads of the ids stored more than once (exact-counts.ts).
    await scoped(`/v1/stats/top?${range}&dimension=ip`, both, 3);
    // From the rollup (whole hours): its rows, the rows of the ids stored twice, their shown rows.
    await scoped(`/v1/stats/timeseries?${range}&group_by=action`, both, 3);
    await scoped(`/v1/stats/top?${range}&dimension=actor`, both, 3);
    await scoped(`/v1/export?${range}`, both);
    await scoped(`/v1/alerts?${range}`, both).catch(() => {}); // auditors may not: 403 before any query
    const byId = await scoped('/v1/events/01900000-0000-7000-8000-000000000001', both);
    assert.equal(byId.length, 2, 'the id\u2019s time window first, then the whole scope');
    // Every lookup-table subquery (18.16) is scoped as well.
    const before = queries.length;
    await get(app, `/v1/events?${range}&actor_id=u1`, 'ask_auditor');
    const [hoursQuery, keysQuery, rowsQuery] = queries.slice(before) as [string, string, string];
    assert.match(hoursQuery, both);
    assert.match(keysQuery, /events_by_actor/);
    assert.equal((keysQuery.match(/`tenant_id` IN \('acme', 'beta'\)/g) ?? []).length, 2);
    assert.match(rowsQuery, both);
  });
});

describe('validation', () => {
  const bad: [string, string][] = [
    ['', 'from'],
    [`from=${FROM}`, 'to'],
    [`to=${TO}`, 'from'],
    ['from=yesterday&to=today', 'from'],
    [`from=2024-02-30T00:00:00Z&to=${TO}`, 'from'],
    [`from=${FROM}&to=2024-04-01T00:00:00Z`, 'to'],
    [`from=${FROM}&to=2024-09-01T00:00:00Z`, 'to'],
    [`${range}&bogus=1`, '(unknown)'],
    [`${range}&limit=0`, 'limit'],
    [`${range}&limit=1001`, 'limit'],
    [`${range}&limit=ten`, 'limit'],
    [`${range}&limit=1&limit=2`, 'limit'],
    [`${range}&sort=sideways`, 'sort'],
    [`${range}&category=nope`, 'category'],
    [`${range}&outcome=nope`, 'outcome'],
    [`${range}&severity=nope`, 'severity'],
    [`${range}&actor_type=robot`, 'actor_type'],
    [`${range}&action=Auth.Login`, 'action'],
    [`${range}&action=auth`, 'action'],
    [`${range}&action_prefix=AUTH`, 'action_prefix'],
    [`${range}&action=auth.login&action_prefix=auth.`, 'action_prefix'],
    [`${range}&source_ip=999.1.1.1`, 'source_ip'],
    [`${range}&source_ip=localhost`, 'source_ip'],
    [`${range}&tenant=`, 'tenant'],
    [`${range}&tenant=a&tenant=b`, 'tenant'],
    [`${range}&actor_id=${'x'.repeat(513)}`, 'actor_id'],
    [`${range}&actor_id=a%00b`, 'actor_id'],
    [`${range}&q=a%0Ab`, 'q'],
    [`${range}&q=%FF%FE`, 'q'],
    [`${range}&q=%ED%A0%80`, 'q'],
    [`${range}&cursor=abc`, 'cursor'],
    [`${range}&cursor=a%20b`, 'cursor'],
  ];
  for (const [qs, parameter] of bad) {
    test(`GET /v1/events?${qs.slice(0, 80)} → 400 naming ${parameter}`, async () => {
      const { app, queries } = makeApp();
      assertProblem(await get(app, `/v1/events?${qs}`), 400, parameter);
      assert.equal(queries.length, 0, 'nothing reached ClickHouse');
    });
  }

  test('every endpoint rejects unknown parameters and checks its own', async () => {
    const { app } = makeApp();
    const cases: [string, string][] = [
      [`/v1/stats/timeseries?${range}&interval=2h`, 'interval'],
      [`/v1/stats/timeseries?${range}&group_by=actor_id`, 'group_by'],
      [`/v1/stats/timeseries?${range}&groups=51`, 'groups'],
      [`/v1/stats/timeseries?from=${FROM}&to=2024-05-31T00:00:00Z&interval=1m`, 'interval'],
      [`/v1/stats/top?${range}`, 'dimension'],
      [`/v1/stats/top?${range}&dimension=tenant`, 'dimension'],
      [`/v1/stats/top?${range}&dimension=actor&limit=101`, 'limit'],
      [`/v1/export?${range}&format=xml`, 'format'],
      [`/v1/export?${range}&limit=10`, '(unknown)'],
      [`/v1/export?${range}&cursor=x`, '(unknown)'],
      [`/v1/alerts?${range}&status=open`, 'status'],
      [`/v1/alerts?${range}&q=x`, '(unknown)'],
      ['/v1/events/not-a-uuid', 'event_id'],
      ['/v1/events/01900000-0000-7000-8000-000000000001?from=x', '(unknown)'],
      ['/v1/events/01900000-0000-7000-8000-000000000001?tenant=', 'tenant'],
    ];
    for (const [url, parameter] of cases) assertProblem(await get(app, url), 400, parameter);
  });

  test('request bodies: unknown fields, bad JSON, wrong type, too large', async () => {
    const { app } = makeApp({ verify: fakeVerifier() });
    const post = (payload: string, type = 'application/json') =>
      app.inject({ method: 'POST', url: '/v1/integrity/verify', headers: { ...as('ask_admin'), 'content-type': type }, payload });
    const wrap = (r: Awaited<ReturnType<typeof post>>) => ({ status: r.statusCode, headers: r.headers, json: () => JSON.parse(r.body) });
    assertProblem(wrap(await post('{"from":"2024-05-01T00:00:00Z","to":"2024-05-02T00:00:00Z","extra":1}')), 400, '(unknown)');
    assertProblem(wrap(await post('{"from":')), 400, 'body');
    assertProblem(wrap(await post('{"from":"2024-05-01T00:00:00Z"}')), 400, 'to');
    assertProblem(wrap(await post('{"latest":true,"from":"2024-05-01T00:00:00Z","to":"2024-05-02T00:00:00Z"}')), 400, 'latest');
    assertProblem(wrap(await post('{"__proto__":{"x":1}}')), 400);
    assertProblem(wrap(await post('from=1', 'application/x-www-form-urlencoded')), 415);
    assertProblem(wrap(await post(JSON.stringify({ from: 'x'.repeat(20_000) }))), 413);
  });
});

describe('injection payloads never reach SQL as code', () => {
  const payloads = [
    "x' OR '1'='1",
    "x'; DROP TABLE audit.events; --",
    "x\\' OR 1=1 --",
    'x` OR 1=1 --',
    "x') UNION ALL SELECT * FROM system.users --",
    'x" OR ""="',
    "x'||(SELECT version())||'",
    '{{7*7}} $(id)',
    'x\\',
  ];
  const params = ['actor_id', 'resource_id', 'resource_type', 'service', 'q', 'tenant'];
  test('string filters are escaped literals, on every endpoint', async () => {
    const { app, queries } = makeApp();
    for (const payload of payloads) {
      for (const param of params) {
        for (const path of ['/v1/events', '/v1/stats/timeseries', '/v1/stats/top', '/v1/export', '/v1/freshness']) {
          const extra = path === '/v1/stats/top' ? '&dimension=resource' : '';
          const before = queries.length;
          const r = await get(app, `${path}?${range}&${param}=${encodeURIComponent(payload)}${extra}`);
          assert.ok(r.status === 200 || r.status === 400, `${path} ${param}=${payload}: ${r.status} ${r.body.slice(0, 300)}`);
          for (const q of queries.slice(before)) {
            const code = codeOf(q);
            // (UNION ALL itself is code: the exact counts add their parts; the payload's is caught by system.users.)
            assert.doesNotMatch(
              code,
              /OR '1'|DROP|UNION ALL SELECT \*|system\.users|version\(\)|--|""=|`x/,
              `${param}=${payload} leaked into code: ${code.slice(0, 300)}`,
            );
          }
        }
      }
    }
  });
});

describe('answers', () => {
  test('ClickHouse timeouts are 504, outages 503, surprises 500 without details', async () => {
    for (const [err, status] of [
      [new AuditstreamError('CLICKHOUSE_TIMEOUT', 'ClickHouse timed out during api_search (code 159)', { retriable: true }), 504],
      [new AuditstreamError('CLICKHOUSE_UNAVAILABLE', 'down', { retriable: true }), 503],
      [new TypeError('secret internal detail'), 500],
    ] as const) {
      const { app } = makeApp({
        answer: () => {
          throw err;
        },
      });
      const r = await get(app, `/v1/events?${range}`);
      const p = assertProblem(r, status);
      assert.doesNotMatch(r.body, /secret internal detail|code 159|stack/);
      if (status === 504) assert.match(String(p.detail), /time limit/);
      if (status === 503) assert.equal(r.headers['retry-after'], '5');
    }
  });

  test('reads fail closed: no audit record, no data (503)', async () => {
    const { app, queries } = makeApp({
      recordEvent: async () => {
        throw new AuditstreamError('PRODUCER_DELIVERY_TIMEOUT', 'kafka down', { retriable: true });
      },
      answer: () => [],
    });
    const r = await get(app, `/v1/events?${range}`);
    assertProblem(r, 503);
    assert.ok(queries.length > 0);
    assert.doesNotMatch(r.body, /"data"/);
    assertProblem(await get(app, `/v1/export?${range}`), 503);
  });

  test('every read is recorded with the actor, the endpoint and the filter', async () => {
    const { app, events } = makeApp();
    const r = await get(app, `/v1/events?${range}&tenant=acme&actor_id=u1&q=needle&limit=5`, 'ask_auditor');
    assert.equal(r.status, 200);
    const e = events.at(-1) as SelfAuditEvent;
    assert.equal(e.action, 'audit.query');
    assert.equal(e.category, 'resource_access');
    assert.equal(e.tenant_id, 'acme');
    assert.equal(e.actor.id, 'aud1');
    assert.equal(e.actor.type, 'service');
    assert.equal(e.request_id, r.headers['x-request-id']);
    assert.equal(e.attributes.endpoint, 'GET /v1/events');
    assert.equal(e.attributes['filter.actor_id'], 'u1');
    assert.equal(e.attributes['filter.q'], 'needle');
    assert.equal(e.attributes['filter.from'], FROM);
    assert.equal(e.attributes.result_count, '0');
    await get(app, `/v1/export?${range}&format=csv`, 'ask_auditor');
    assert.equal(events.at(-1)?.action, 'audit.export');
    assert.equal(events.at(-1)?.category, 'data_export');
    assert.equal(events.at(-1)?.tenant_id, 'auditstream', 'several tenants: the configured self-audit tenant');
    assert.equal(events.at(-1)?.attributes.scope, 'acme,beta');
  });

  test('rate limit per credential: 429 with Retry-After, other credentials unaffected', async () => {
    const { app } = makeApp({ config: apiDefaults({ rate_limit_burst: 3, rate_limit_per_s: 0.5, rate_limit_export_cost: 3 }) });
    for (let i = 0; i < 3; i++) assert.equal((await get(app, `/v1/events?${range}`, 'ask_auditor')).status, 200);
    const r = await get(app, `/v1/events?${range}`, 'ask_auditor');
    assertProblem(r, 429);
    assert.equal(r.headers['retry-after'], '2');
    // Another credential has its own bucket; an export takes rate_limit_export_cost tokens.
    assert.equal((await get(app, `/v1/export?${range}`, 'ask_admin')).status, 200);
    assertProblem(await get(app, `/v1/events?${range}`, 'ask_admin'), 429);
  });

  test('failed authentication is rate limited per client IP', async () => {
    const { app } = makeApp({ config: apiDefaults({ unauthenticated_rate_limit_per_s: 1 }) });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await get(app, `/v1/events?${range}`, 'ask_guess')).status);
    assert.deepEqual(statuses, [401, 401, 429, 429]);
  });

  test('integrity: 501 without a verifier, the report with one', async () => {
    const none = makeApp();
    const r = await none.app.inject({ method: 'POST', url: '/v1/integrity/verify', headers: as('ask_admin') });
    const p = assertProblem({ status: r.statusCode, headers: r.headers, json: () => JSON.parse(r.body) }, 501);
    assert.match(String(p.detail), /not configured/);
    const { app, events } = makeApp({ verify: fakeVerifier() });
    const ok = await app.inject({ method: 'POST', url: '/v1/integrity/verify', headers: as('ask_admin'), payload: { from: FROM, to: TO } });
    assert.equal(ok.statusCode, 200);
    assert.equal(JSON.parse(ok.body).status, 'ok');
    assert.equal(JSON.parse(ok.body).from, FROM);
    assert.equal(events.at(-1)?.attributes.result_status, 'ok');
    const latest = await app.inject({ method: 'POST', url: '/v1/integrity/verify', headers: as('ask_admin'), payload: {} });
    assert.equal(latest.statusCode, 404);
  });

  test('metrics label routes by pattern, never by raw URL', async () => {
    const { app, metrics } = makeApp({ answer: () => [] });
    await get(app, '/v1/events/01900000-0000-7000-8000-000000000001');
    await get(app, '/v1/events/01900000-0000-7000-8000-000000000002');
    await get(app, '/nowhere/at/all');
    const text = await metrics.metrics();
    assert.match(text, /auditstream_api_requests_total\{[^}]*route="\/v1\/events\/:event_id",method="GET",status_class="4xx"[^}]*\} 2/);
    assert.match(text, /auditstream_api_requests_total\{[^}]*route="unmatched"/);
    assert.doesNotMatch(text, /01900000-0000-7000-8000/);
    assert.match(text, /auditstream_api_clickhouse_query_duration_seconds_count\{[^}]*query="get_event"[^}]*\} 2/);
    assert.match(text, /auditstream_api_request_duration_seconds_bucket/);
  });
});

describe('configuration', () => {
  test('a partial OIDC configuration refuses to start, naming the missing key', () => {
    assert.throws(
      () => makeApp({ config: apiDefaults({ oidc_jwks_url: 'http://127.0.0.1:1/jwks.json', oidc_issuer: 'https://issuer.test' }) }),
      (err: unknown) => err instanceof AuditstreamError && err.code === 'CONFIG_INVALID' && err.field === 'api.oidc_audience',
    );
  });
});

describe('OpenAPI', () => {
  test('the document covers every endpoint with the validation schemas, and every $ref resolves', async () => {
    const { app } = makeApp();
    const r = await app.inject({ url: '/openapi.json' });
    const doc = JSON.parse(r.body) as {
      openapi: string;
      paths: Record<
        string,
        Record<
          string,
          { operationId: string; parameters?: { name: string; in: string; schema: unknown }[]; responses: Record<string, unknown>; security: unknown[] }
        >
      >;
      components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
    };
    assert.equal(doc.openapi, '3.1.0');
    assert.deepEqual(Object.keys(doc.paths).sort(), [
      '/healthz',
      '/readyz',
      '/v1/alerts',
      '/v1/console/signin-codes',
      '/v1/events',
      '/v1/events/{event_id}',
      '/v1/events/{event_id}/proof',
      '/v1/events/{event_id}/verify',
      '/v1/export',
      '/v1/export/manifest',
      '/v1/freshness',
      '/v1/health/pipeline',
      '/v1/integrity/checkpoints',
      '/v1/integrity/consistency',
      '/v1/integrity/verify',
      '/v1/saved-searches',
      '/v1/saved-searches/{search_id}',
      '/v1/stats/timeseries',
      '/v1/stats/top',
      '/v1/viewer-tokens',
    ]);
    const search = doc.paths['/v1/events']?.get;
    assert.ok(search);
    assert.deepEqual(
      search.parameters?.map((p) => p.name),
      [
        'from',
        'to',
        'tenant',
        'actor_id',
        'actor_type',
        'action',
        'action_prefix',
        'category',
        'outcome',
        'severity',
        'resource_type',
        'resource_id',
        'service',
        'source_ip',
        'session_id',
        'q',
        'sort',
        'limit',
        'cursor',
      ],
    );
    for (const status of ['200', '400', '401', '403', '429', '503', '504']) assert.ok(search.responses[status], `search documents ${status}`);
    assert.ok(doc.paths['/v1/export']?.get?.responses['200']);
    assert.ok(doc.paths['/v1/integrity/verify']?.post?.responses['501']);
    const text = JSON.stringify(doc);
    for (const [, name] of text.matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)) assert.ok(doc.components.schemas[name as string], `${name} resolves`);
    assert.ok(doc.paths['/v1/events/{event_id}/verify']?.get?.responses['501']);
    for (const name of ['Event', 'EventWithIntegrity', 'EventPage', 'Problem', 'Alert', 'IntegrityReport', 'EventVerification'])
      assert.ok(doc.components.schemas[name], name);
    const ops = Object.values(doc.paths).flatMap((p) => Object.values(p));
    assert.equal(new Set(ops.map((o) => o.operationId)).size, ops.length, 'unique operation ids');
    for (const o of ops) if (o.operationId !== 'healthz' && o.operationId !== 'readyz') assert.ok(o.security.length > 0, `${o.operationId} is secured`);
  });
});
