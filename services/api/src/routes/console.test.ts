import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { as, makeApp } from '../app.test-helper.js';
import { apiDefaults } from '../config.js';

test('every console page is the one HTML page under a strict CSP; assets are served from memory with an etag', async () => {
  const { app } = makeApp();
  for (const url of ['/console', '/console/search?tenant=acme', '/console/events/x']) {
    const r = await app.inject({ url });
    assert.equal(r.statusCode, 200, url);
    assert.match(r.headers['content-type'] as string, /^text\/html/);
    const csp = r.headers['content-security-policy'] as string;
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe/);
    assert.doesNotMatch(r.body, /<script>|style=/);
  }
  const js = await app.inject({ url: '/console/assets/app.js' });
  assert.equal(js.statusCode, 200);
  assert.match(js.headers['content-type'] as string, /^text\/javascript/);
  const again = await app.inject({ url: '/console/assets/app.js', headers: { 'if-none-match': js.headers.etag as string } });
  assert.equal(again.statusCode, 304);
  assert.equal((await app.inject({ url: '/console/assets/nope.js' })).statusCode, 404);
});

test('the embed pages take frame-ancestors from api.console_frame_ancestors; nothing else does', async () => {
  const { app } = makeApp({ config: apiDefaults({ console_frame_ancestors: "'self' https://app.example.com" }) });
  for (const url of ['/console/embed', '/console/embed/events/x']) {
    assert.match((await app.inject({ url })).headers['content-security-policy'] as string, /frame-ancestors 'self' https:\/\/app\.example\.com$/, url);
  }
  assert.match((await app.inject({ url: '/console/search' })).headers['content-security-policy'] as string, /frame-ancestors 'none'/);
});

test('a sign-in code stands for the token that minted it, works once, and needs a credential that may read', async () => {
  const { app } = makeApp();
  const mint = await app.inject({ method: 'POST', url: '/v1/console/signin-codes', headers: as('ask_auditor') });
  assert.equal(mint.statusCode, 200);
  const { code } = mint.json() as { code: string };
  assert.ok(code.length >= 40);
  const trade = () => app.inject({ method: 'POST', url: '/console/session', payload: { code } });
  const first = await trade();
  assert.equal(first.statusCode, 200);
  assert.deepEqual(first.json(), { token: 'ask_auditor' });
  assert.equal(first.headers['cache-control'], 'no-store');
  assert.equal((await trade()).statusCode, 400);
  assert.equal((await app.inject({ method: 'POST', url: '/console/session', payload: { code: 'guess' } })).statusCode, 400);
  assert.equal((await app.inject({ method: 'POST', url: '/v1/console/signin-codes', headers: as('ask_service') })).statusCode, 403);
  assert.equal((await app.inject({ method: 'POST', url: '/v1/console/signin-codes' })).statusCode, 401);
});

test('an expired sign-in code is refused', async () => {
  let now = Date.now();
  const realNow = Date.now;
  Date.now = () => now;
  try {
    const { app } = makeApp({ config: apiDefaults({ console_signin_ttl_s: 60 }) });
    const { code } = (await app.inject({ method: 'POST', url: '/v1/console/signin-codes', headers: as('ask_admin') })).json() as { code: string };
    now += 61_000;
    assert.equal((await app.inject({ method: 'POST', url: '/console/session', payload: { code } })).statusCode, 400);
  } finally {
    Date.now = realNow;
  }
});

test('api.console_enabled false serves no console', async () => {
  const { app } = makeApp({ config: apiDefaults({ console_enabled: false }) });
  assert.equal((await app.inject({ url: '/console' })).statusCode, 404);
});

test('OIDC sign-in: off without api.console_oidc_client_id; with it, discovery and a code + PKCE verifier redeemed at the issuer', async () => {
  assert.equal((await makeApp().app.inject({ url: '/console/oidc' })).statusCode, 404);
  const seen: URLSearchParams[] = [];
  const server = createServer((req, res) => {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    if (req.url === '/.well-known/openid-configuration') {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ authorization_endpoint: `${base}/authorize`, token_endpoint: `${base}/token` }));
      return;
    }
    let body = '';
    req.on('data', (d) => {
      body += String(d);
    });
    req.on('end', () => {
      const f = new URLSearchParams(body);
      seen.push(f);
      if (f.get('code') === 'good') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: 'eyJ.tok.en' }));
      else res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'invalid_grant', code: f.get('code') }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const { app } = makeApp({
      config: apiDefaults({ oidc_jwks_url: `${issuer}/jwks`, oidc_issuer: issuer, oidc_audience: 'api', console_oidc_client_id: 'console' }),
    });
    const cfg = await app.inject({ url: '/console/oidc' });
    assert.equal(cfg.statusCode, 200);
    assert.deepEqual(cfg.json(), {
      client_id: 'console',
      authorization_endpoint: `${issuer}/authorize`,
      scopes: 'openid',
      redirect_path: '/console/signin/oidc',
    });
    const redeem = (code: string, redirect_uri = 'https://audit.example.com/console/signin/oidc') =>
      app.inject({ method: 'POST', url: '/console/oidc/token', payload: { code, code_verifier: 'v'.repeat(43), redirect_uri } });
    const ok = await redeem('good');
    assert.equal(ok.statusCode, 200);
    assert.deepEqual(ok.json(), { token: 'eyJ.tok.en' });
    assert.equal(ok.headers['cache-control'], 'no-store');
    assert.deepEqual(Object.fromEntries(seen[0] ?? []), {
      grant_type: 'authorization_code',
      client_id: 'console',
      code: 'good',
      code_verifier: 'v'.repeat(43),
      redirect_uri: 'https://audit.example.com/console/signin/oidc',
    });
    const refused = await redeem('stale');
    assert.equal(refused.statusCode, 400);
    assert.doesNotMatch(refused.body, /stale/, 'the issuer\u2019s answer is not echoed');
    assert.equal((await redeem('good', 'https://evil.example.com/elsewhere')).statusCode, 400);
    assert.equal(seen.length, 2, 'a redirect URI that is not the console\u2019s never reaches the issuer');
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
  // The issuer gone: 503, not a refused code.
  const { app } = makeApp({
    config: apiDefaults({ oidc_jwks_url: `${issuer}/jwks`, oidc_issuer: issuer, oidc_audience: 'api', console_oidc_client_id: 'console' }),
  });
  assert.equal((await app.inject({ url: '/console/oidc' })).statusCode, 503);
});
