import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { describe, test } from 'node:test';
import { repoRoot } from '@auditstream/core';
import type { FastifyInstance } from 'fastify';
import { as, assertProblem, fakeVerifier, get, makeApp, range } from './app.test-helper.js';
import { apiDefaults } from './config.js';
import { parseDecimalInteger } from './plugins/params.js';
import { PROBLEMS, problemType } from './problem.js';

// The API's edges as a hostile or careless client finds them: number-shaped and loosely
// written integers, errors outside the route lifecycle, echoed input, phantom tenants, and the
// audit trail of refused requests.

/** Every route parameter declared as an integer, from the OpenAPI document (so a new one is covered too). */
async function integerParameters(app: FastifyInstance): Promise<{ path: string; name: string }[]> {
  const doc = (await get(app, '/openapi.json')).json() as {
    paths: Record<string, Record<string, { parameters?: { name: string; in: string; schema?: { type?: string } }[] }>>;
  };
  const out: { path: string; name: string }[] = [];
  for (const [path, ops] of Object.entries(doc.paths))
    for (const op of Object.values(ops))
      for (const p of op.parameters ?? []) if (p.in === 'query' && p.schema?.type === 'integer') out.push({ path, name: p.name });
  return out;
}

/** A request URL for an integer parameter: the route's required parameters plus this one. */
function urlFor(path: string, name: string, value: string): string {
  if (path === '/v1/integrity/consistency') return `${path}?from_size=1&${name}=${value}`;
  const extra = path === '/v1/stats/top' ? '&dimension=actor' : path === '/v1/stats/timeseries' ? '&group_by=action' : '';
  return `${path}?${range}${extra}&${name}=${value}`;
}

describe('number-shaped and loosely written integers', () => {
  test('the parser takes decimal digits only', () => {
    assert.deepEqual(parseDecimalInteger('0'), { value: 0 });
    assert.deepEqual(parseDecimalInteger('1000'), { value: 1000 });
    for (const raw of ['', ' 5', '5 ', '+5', '-5', '05', '0x10', '0b11', '0o7', '1e2', '5.0', '1_000', 'Infinity', '-Infinity', 'NaN', '١٢'])
      assert.ok('error' in parseDecimalInteger(raw), `${JSON.stringify(raw)} is refused`);
    assert.deepEqual(parseDecimalInteger('9'.repeat(400)), { error: 'is out of range' });
  });

  test('the integer parameters are the documented ones', async () => {
    const { app } = makeApp();
    assert.deepEqual((await integerParameters(app)).map((p) => `${p.path} ${p.name}`).sort(), [
      '/v1/alerts limit',
      '/v1/events limit',
      '/v1/freshness producers',
      '/v1/integrity/consistency partition',
      '/v1/stats/timeseries groups',
      '/v1/stats/top limit',
    ]);
  });

  const values = ['Infinity', '-Infinity', '1e400', 'NaN', '0x10', '0b11', '0o7', '1e2', '%205', '+5', '%2B5', '05', '5.0', '-1', '1.5', `1${'0'.repeat(400)}`];
  test('every integer parameter: number-shaped and non-decimal values are 400 naming it, never 500, and still audited', async () => {
    const { app, queries, events } = makeApp();
    for (const { path, name } of await integerParameters(app)) {
      for (const v of values) {
        const before = events.length;
        const r = await get(app, urlFor(path, name, v));
        assert.equal(r.status, 400, `${path} ${name}=${v}: ${r.body}`);
        assertProblem(r, 400, name);
        assert.equal(queries.length, 0, `${path} ${name}=${v} reached ClickHouse`);
        const e = events.at(-1);
        assert.equal(events.length, before + 1, `${path} ${name}=${v} left no self-audit event`);
        assert.equal(e?.outcome, 'failure');
        assert.equal(e?.reason, 'invalid_parameters');
        assert.equal(e?.attributes.invalid_parameters, name);
        assert.equal(e?.attributes.status, '400');
      }
    }
  });

  test('a decimal integer in range still works', async () => {
    const { app } = makeApp();
    // The consistency proof needs signed tree heads, which the fake store has none of: 404, past validation.
    for (const { path, name } of await integerParameters(app))
      assert.equal((await get(app, urlFor(path, name, '5'))).status, path === '/v1/integrity/consistency' ? 404 : 200, `${path} ${name}=5`);
  });
});

describe('input is never echoed', () => {
  test('unknown parameter names, in the query and the body, appear in neither detail nor errors', async () => {
    const { app } = makeApp({ verify: fakeVerifier() });
    const marker = '<script>alert(1)</script>';
    const r = await get(app, `/v1/events?${range}&${encodeURIComponent(marker)}=1&limt=5`);
    const p = assertProblem(r, 400, '(unknown)');
    assert.ok(!r.body.includes('script') && !r.body.includes('limt'), r.body);
    assert.match(String(p.detail), /\(unknown\)/);
    const b = await app.inject({
      method: 'POST',
      url: '/v1/integrity/verify',
      headers: { ...as('ask_admin'), 'content-type': 'application/json' },
      payload: JSON.stringify({ [marker]: 1 }),
    });
    assert.equal(b.statusCode, 400);
    assert.ok(!b.body.includes('script'), b.body);
    // Not-UTF-8 values under an unknown name: the name is not echoed either.
    const u = await get(app, `/v1/events?${range}&${encodeURIComponent(marker)}=%FF`);
    assert.equal(u.status, 400);
    assert.ok(!u.body.includes('script'), u.body);
  });
});

describe('POST /v1/integrity/verify', () => {
  const post = (app: FastifyInstance, payload: string, type: string) =>
    app.inject({ method: 'POST', url: '/v1/integrity/verify', headers: { ...as('ask_admin'), 'content-type': type }, payload });
  const wrap = (r: Awaited<ReturnType<typeof post>>) => ({ status: r.statusCode, headers: r.headers, json: () => JSON.parse(r.body) });

  test('text/plain is 415 as documented', async () => {
    const { app } = makeApp({ verify: fakeVerifier() });
    assertProblem(wrap(await post(app, '{"latest":true}', 'text/plain')), 415);
    assertProblem(wrap(await post(app, 'hello', 'text/plain; charset=utf-8')), 415);
  });

  test('from > to and other range errors point into the body', async () => {
    const { app } = makeApp({ verify: fakeVerifier() });
    for (const body of [
      { from: '2024-05-02T00:00:00Z', to: '2024-05-01T00:00:00Z' },
      { from: '2024-02-30T00:00:00Z', to: '2024-05-01T00:00:00Z' },
      { from: '2024-01-01T00:00:00Z', to: '2025-05-01T00:00:00Z' },
    ]) {
      const p = assertProblem(wrap(await post(app, JSON.stringify(body), 'application/json')), 400);
      const errors = p.errors as { in: string }[];
      assert.ok(errors.length > 0 && errors.every((e) => e.in === 'body'), JSON.stringify(p));
    }
  });
});

/** Sends raw bytes to a listening app and returns the whole answer (status line, headers, body). */
function raw(port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let out = '';
    s.on('data', (d) => {
      out += String(d);
    });
    s.on('error', () => resolve(out));
    s.on('close', () => resolve(out));
    s.write(text);
    // The server closes after an error; after a normal answer, a keep-alive connection is ended here.
    s.on('data', () => {
      if (/\r\n\r\n/.test(out) && /content-length: (\d+)/i.test(out)) {
        const len = Number(/content-length: (\d+)/i.exec(out)?.[1]);
        if (Buffer.byteLength(out.slice(out.indexOf('\r\n\r\n') + 4)) >= len) s.end();
      }
    });
  });
}

function parseAnswer(text: string): { status: number; headers: Record<string, string>; body: string } {
  const [head = '', ...rest] = text.split('\r\n\r\n');
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  let body = rest.join('\r\n\r\n');
  // A chunked body (the 417 answer): one chunk then the terminator.
  if (headers['transfer-encoding'] === 'chunked') body = body.split('\r\n')[1] ?? '';
  return { status: Number(statusLine.split(' ')[1]), headers, body };
}

describe('every error is RFC 9457, with a request id, echoing nothing', () => {
  const MARK = 'zqxmarkzqx';
  const cases: [string, string, number][] = [
    ['over-long path parameter (fastify 414)', `GET /v1/events/${MARK}${'a'.repeat(200)} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ask_admin\r\n\r\n`, 414],
    ['path that does not percent-decode', `GET /v1/events/${MARK}%E0%A4%A HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ask_admin\r\n\r\n`, 400],
    ['oversized URL (431)', `GET /v1/events?q=${MARK}${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 431],
    ['oversized header (431)', `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${MARK}${'a'.repeat(20_000)}\r\n\r\n`, 431],
    ['a control byte in a header', `GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: ${MARK}\x01b\r\n\r\n`, 400],
    [
      'Content-Length together with Transfer-Encoding',
      `POST /v1/integrity/verify HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
      400,
    ],
    ['an unknown method', `${MARK.toUpperCase()} /healthz HTTP/1.1\r\nHost: x\r\n\r\n`, 400],
    ['an HTTP version Node does not speak', 'GET /healthz HTTP/7.1\r\nHost: x\r\n\r\n', 400],
    ['HTTP/1.1 without Host', 'GET /healthz HTTP/1.1\r\n\r\n', 400],
    ['an Expect other than 100-continue', `GET /healthz HTTP/1.1\r\nHost: x\r\nExpect: ${MARK}\r\n\r\n`, 417],
    ['an unknown path', `GET /${MARK} HTTP/1.1\r\nHost: x\r\n\r\n`, 404],
    ['a method the path does not have', `DELETE /v1/events HTTP/1.1\r\nHost: x\r\n\r\n`, 404],
  ];
  for (const [name, request, status] of cases) {
    test(`${name} → ${status} problem+json`, async () => {
      const { app } = makeApp();
      await app.listen({ host: '127.0.0.1', port: 0 });
      try {
        const a = parseAnswer(await raw((app.server.address() as { port: number }).port, request));
        assert.equal(a.status, status, JSON.stringify(a));
        assert.match(a.headers['content-type'] ?? '', /^application\/problem\+json/);
        const id = a.headers['x-request-id'];
        assert.match(id ?? '', /^[0-9a-f-]{36}$/);
        const p = JSON.parse(a.body) as Record<string, unknown>;
        assert.equal(p.status, status);
        assert.equal(p.instance, id);
        assert.equal(typeof p.type, 'string');
        assert.ok(!a.body.includes(MARK) && !a.body.toLowerCase().includes(MARK), `echoes input: ${a.body}`);
      } finally {
        await app.close();
      }
    });
  }

  test('a request while the server closes → 503 problem+json', async () => {
    const { app } = makeApp();
    let release = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    app.addHook('preClose', async () => gate);
    await app.listen({ host: '127.0.0.1', port: 0 });
    const port = (app.server.address() as { port: number }).port;
    const closing = app.close();
    try {
      const a = parseAnswer(await raw(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
      assert.equal(a.status, 503, JSON.stringify(a));
      assert.match(a.headers['content-type'] ?? '', /^application\/problem\+json/);
      assert.equal((JSON.parse(a.body) as { instance: string }).instance, a.headers['x-request-id']);
    } finally {
      release();
      await closing;
    }
  });
});

describe('self-audit tenants', () => {
  test('an admin query for any tenant records under the operator tenant, the target as an attribute', async () => {
    const { app, events } = makeApp();
    assert.equal((await get(app, `/v1/events?${range}&tenant=no-such-tenant`)).status, 200);
    assert.equal((await get(app, `/v1/stats/top?${range}&dimension=actor&tenant=phantom2`)).status, 200);
    assert.deepEqual(
      events.map((e) => [e.tenant_id, e.attributes.target_tenant]),
      [
        ['auditstream', 'no-such-tenant'],
        ['auditstream', 'phantom2'],
      ],
    );
    // Refused: the named tenant is only a filter attribute of an operator-tenant event.
    assertProblem(await get(app, `/v1/events?${range}&tenant=elsewhere`, 'ask_auditor'), 403);
    assert.equal(events.at(-1)?.tenant_id, 'auditstream');
  });

  test('a credential scoped to named tenants records a one-tenant read under that tenant', async () => {
    const { app, events } = makeApp();
    assert.equal((await get(app, `/v1/events?${range}&tenant=acme`, 'ask_auditor')).status, 200);
    assert.equal(events.at(-1)?.tenant_id, 'acme');
    assert.equal(events.at(-1)?.attributes.target_tenant, undefined);
    assert.equal((await get(app, `/v1/events?${range}`, 'ask_auditor')).status, 200);
    assert.equal(events.at(-1)?.tenant_id, 'auditstream');
  });
});

describe('refused requests leave audit records', () => {
  test('failed authentication is recorded as audit.authenticate with the client IP and the claimed key id, never the secret', async () => {
    const { app, events } = makeApp();
    const guess = `ask_0123456789abcdef_${'A'.repeat(43)}`;
    for (const headers of [{}, { authorization: `Bearer ${guess}` }, { authorization: 'Basic abc' }]) {
      const r = await app.inject({ method: 'GET', url: `/v1/events?${range}`, headers });
      assert.equal(r.statusCode, 401);
    }
    assert.equal(events.length, 3);
    for (const e of events) {
      assert.equal(e.action, 'audit.authenticate');
      assert.equal(e.category, 'authentication');
      assert.equal(e.outcome, 'failure');
      assert.equal(e.reason, 'invalid_credentials');
      assert.equal(e.actor.type, 'anonymous');
      assert.equal(e.actor.ip, '127.0.0.1');
      assert.equal(e.tenant_id, 'auditstream');
      assert.equal(e.attributes.status, '401');
    }
    assert.deepEqual(
      events.map((e) => [e.attributes.credential, e.attributes.key_id]),
      [
        ['none', undefined],
        ['api_key', '0123456789abcdef'],
        ['malformed', undefined],
      ],
    );
    assert.ok(!JSON.stringify(events).includes('AAAAAAAA'), 'the secret is not recorded');
  });

  test('refusal records are rate-limited for the whole process; the next record counts the ones left out', async () => {
    let now = 1_000_000;
    const { app, events, metrics } = makeApp({
      now: () => now,
      config: apiDefaults({ rate_limit_burst: 1000, rate_limit_per_s: 1000, unauthenticated_rate_limit_per_s: 1000, self_audit_refusals_per_s: 2 }),
    });
    for (let i = 0; i < 10; i++) assert.equal((await app.inject({ method: 'GET', url: `/v1/events?${range}` })).statusCode, 401);
    assert.equal(events.length, 4, 'burst = twice the rate');
    now += 1000; // two more tokens
    await app.inject({ method: 'GET', url: `/v1/events?${range}`, headers: as('ask_nope') });
    assert.equal(events.length, 5);
    assert.equal(events.at(-1)?.attributes.suppressed_before, '6');
    assert.match(await metrics.metrics(), /auditstream_api_self_audit_suppressed_total(\{[^}]*\})? 6\n/);
  });

  test('key guessing until the address is refused (429) stays visible', async () => {
    const { app, events } = makeApp({ config: apiDefaults({ unauthenticated_rate_limit_per_s: 1 }) });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await app.inject({ method: 'GET', url: `/v1/events?${range}`, headers: as(`ask_guess${i}`) })).statusCode);
    assert.deepEqual(statuses, [401, 401, 429, 429]);
    assert.deepEqual(
      events.map((e) => [e.action, e.reason]),
      [
        ['audit.authenticate', 'invalid_credentials'],
        ['audit.authenticate', 'invalid_credentials'],
        ['audit.authenticate', 'rate_limited'],
        ['audit.authenticate', 'rate_limited'],
      ],
    );
  });

  test('a refusal after the route recorded the request (404 after the lookup) is not recorded twice', async () => {
    const { app, events } = makeApp();
    assertProblem(await get(app, '/v1/events/01900000-0000-7000-8000-000000000001'), 404);
    assert.deepEqual(
      events.map((e) => [e.outcome, e.attributes.result_count]),
      [['success', '0']],
    );
  });

  test('authenticated refusals: 400 names the parameters at fault (no values), 415 and 429 are failures, 403 denied', async () => {
    const { app, events } = makeApp({ verify: fakeVerifier() });
    await get(app, `/v1/events?${range}&limit=0x10&sort=sideways`, 'ask_auditor');
    assert.equal(events.at(-1)?.action, 'audit.query');
    assert.equal(events.at(-1)?.actor.id, 'aud1');
    assert.equal(events.at(-1)?.attributes.invalid_parameters, 'limit');
    assert.ok(!JSON.stringify(events.at(-1)).includes('0x10'));
    await get(app, `/v1/events?${range}&sort=sideways`, 'ask_auditor');
    assert.equal(events.at(-1)?.attributes.invalid_parameters, 'sort');
    await app.inject({ method: 'POST', url: '/v1/integrity/verify', headers: { ...as('ask_admin'), 'content-type': 'text/plain' }, payload: 'x' });
    assert.deepEqual([events.at(-1)?.outcome, events.at(-1)?.reason, events.at(-1)?.attributes.status], ['failure', 'unsupported_media_type', '415']);
    await get(app, `/v1/alerts?${range}`, 'ask_auditor');
    assert.deepEqual([events.at(-1)?.outcome, events.at(-1)?.reason], ['denied', 'role_not_allowed']);
  });
});

describe('docs/api.md', () => {
  test('the error catalogue lists every problem kind with its status and an example body', () => {
    const doc = readFileSync(`${repoRoot()}/docs/api.md`, 'utf8');
    const section = doc.slice(doc.indexOf('## Errors'), doc.indexOf('## Rate limiting'));
    for (const [kind, { status }] of Object.entries(PROBLEMS)) {
      const slug = problemType(kind as keyof typeof PROBLEMS).replace('urn:auditstream:problem:', '');
      assert.match(section, new RegExp(`\\| ${status} \\| \`${slug}\` \\|`), `the table lists ${status} ${slug}`);
      assert.ok(section.includes(`"type":"${problemType(kind as keyof typeof PROBLEMS)}"`), `an example body of ${slug}`);
    }
  });
});
