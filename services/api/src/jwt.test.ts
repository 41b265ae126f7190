import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { createJwtVerifier, type JwtVerifier, looksLikeJwt } from './jwt.js';
import { ProblemError } from './problem.js';

// A local OIDC issuer: a generated key pair and its JWKS served on 127.0.0.1.
const ISSUER = 'https://issuer.test';
const AUDIENCE = 'auditstream-api';
let server: Server;
let jwksUrl: string;
let key: CryptoKey;
let otherKey: CryptoKey;
let verifier: JwtVerifier;

before(async () => {
  const pair = await generateKeyPair('ES256');
  key = pair.privateKey as CryptoKey;
  otherKey = (await generateKeyPair('ES256')).privateKey as CryptoKey;
  const jwk: JWK = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  server = createServer((req, res) => {
    if (req.url === '/jwks.json') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  verifier = createJwtVerifier({
    jwksUrl,
    issuer: ISSUER,
    audience: AUDIENCE,
    roleClaim: 'auditstream_role',
    tenantsClaim: 'auditstream_tenants',
    piiClaim: 'auditstream_pii',
    clockToleranceS: 5,
  });
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

function token(claims: Record<string, unknown>, opts: { key?: CryptoKey; kid?: string; iss?: string; aud?: string; exp?: number | string; nbf?: number } = {}) {
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', kid: opts.kid ?? 'k1' })
    .setIssuer(opts.iss ?? ISSUER)
    .setAudience(opts.aud ?? AUDIENCE)
    .setSubject('alice@example.test')
    .setIssuedAt()
    .setExpirationTime(opts.exp ?? '5m');
  if (opts.nbf !== undefined) jwt.setNotBefore(opts.nbf);
  return jwt.sign(opts.key ?? key);
}

test('a valid token yields its subject, role and tenants', async () => {
  const p = await verifier.verify(await token({ auditstream_role: 'auditor', auditstream_tenants: ['acme', 'beta'] }));
  assert.deepEqual(p, { kind: 'jwt', id: 'alice@example.test', role: 'auditor', tenants: ['acme', 'beta'] });
  assert.deepEqual((await verifier.verify(await token({ auditstream_role: 'auditor', auditstream_tenants: '*' })))?.tenants, '*');
  assert.deepEqual((await verifier.verify(await token({ auditstream_role: 'auditor', auditstream_tenants: 'acme' })))?.tenants, ['acme']);
  assert.deepEqual((await verifier.verify(await token({ auditstream_role: 'admin' })))?.tenants, '*');
});

test('the PII permission comes only from the pii claim being the boolean true', async () => {
  const claims = { auditstream_role: 'auditor', auditstream_tenants: ['acme'] };
  assert.equal((await verifier.verify(await token({ ...claims, auditstream_pii: true })))?.pii, true);
  for (const v of ['true', 1, false, undefined]) assert.equal((await verifier.verify(await token({ ...claims, auditstream_pii: v })))?.pii, undefined);
  assert.equal((await verifier.verify(await token({ auditstream_role: 'admin' })))?.pii, undefined, 'not implied by admin');
});

test('wrong issuer, audience, signer, expiry or algorithm: not authenticated', async () => {
  const claims = { auditstream_role: 'admin' };
  const now = Math.floor(Date.now() / 1000);
  const bad = [
    await token(claims, { iss: 'https://evil.test' }),
    await token(claims, { aud: 'someone-else' }),
    await token(claims, { key: otherKey }),
    await token(claims, { exp: now - 60 }),
    await token(claims, { nbf: now + 600 }),
  ];
  // alg none, and HS256 (a symmetric key must never be accepted against a public JWKS).
  const body = Buffer.from(JSON.stringify({ iss: ISSUER, aud: AUDIENCE, sub: 'x', exp: now + 60, auditstream_role: 'admin' })).toString('base64url');
  bad.push(`${Buffer.from('{"alg":"none"}').toString('base64url')}.${body}.`);
  bad.push(`${Buffer.from('{"alg":"HS256","kid":"k1"}').toString('base64url')}.${body}.${Buffer.from('sig').toString('base64url')}`);
  for (const t of bad) assert.equal(await verifier.verify(t), undefined);
  assert.equal(looksLikeJwt('a.b.c'), true);
  assert.equal(looksLikeJwt('ask_x'), false);
});

test('a valid token without a usable role or tenants is 403, not 401', async () => {
  const forbidden = (err: unknown) => err instanceof ProblemError && err.status === 403;
  await assert.rejects(verifier.verify(await token({})), forbidden);
  await assert.rejects(verifier.verify(await token({ auditstream_role: 'root' })), forbidden);
  await assert.rejects(verifier.verify(await token({ auditstream_role: 'auditor' })), forbidden);
  await assert.rejects(verifier.verify(await token({ auditstream_role: 'auditor', auditstream_tenants: [1, 2] })), forbidden);
});

test('an unreachable JWKS is our outage (503), not a bad token', async () => {
  const down = createJwtVerifier({
    jwksUrl: 'http://127.0.0.1:9/jwks.json',
    issuer: ISSUER,
    audience: AUDIENCE,
    roleClaim: 'auditstream_role',
    tenantsClaim: 'auditstream_tenants',
    clockToleranceS: 5,
  });
  await assert.rejects(down.verify(await token({ auditstream_role: 'admin' })), (err: unknown) => err instanceof ProblemError && err.status === 503);
});
