import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

/**
 * A local OIDC issuer for the console's sign-in (authorization code + PKCE): discovery, JWKS, an
 * authorization endpoint that approves at once (a user already signed in at the issuer) and a
 * token endpoint that checks the client, the redirect URI, the code (once) and the PKCE verifier
 * against the S256 challenge, then issues an ES256 access token with the given claims.
 */
export interface TestIssuer {
  url: string;
  jwksUrl: string;
  /** What the authorization endpoint was asked (the last request), and every code it issued. */
  authorizeRequests: URLSearchParams[];
  codes: string[];
  close(): Promise<void>;
}

export async function startTestIssuer(o: { clientId: string; audience: string; claims: Record<string, unknown> }): Promise<TestIssuer> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'test-1', alg: 'ES256', use: 'sig' };
  const pending = new Map<string, { challenge: string; redirectUri: string }>();
  const authorizeRequests: URLSearchParams[] = [];
  const codes: string[] = [];
  let base = '';
  const body = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      let s = '';
      req.on('data', (d) => {
        s += String(d);
      });
      req.on('end', () => resolve(s));
    });
  const server = createServer(async (req, res) => {
    const u = new URL(req.url ?? '/', base);
    const json = (status: number, v: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(v));
    if (u.pathname === '/.well-known/openid-configuration')
      return json(200, {
        issuer: base,
        authorization_endpoint: `${base}/authorize`,
        token_endpoint: `${base}/token`,
        jwks_uri: `${base}/jwks`,
        code_challenge_methods_supported: ['S256'],
      });
    if (u.pathname === '/jwks') return json(200, { keys: [jwk] });
    if (u.pathname === '/authorize') {
      const q = u.searchParams;
      authorizeRequests.push(q);
      const redirectUri = q.get('redirect_uri') ?? '';
      const ok = q.get('client_id') === o.clientId && q.get('response_type') === 'code' && q.get('code_challenge_method') === 'S256' && q.get('code_challenge');
      if (!ok) return json(400, { error: 'invalid_request' });
      const code = randomBytes(16).toString('base64url');
      codes.push(code);
      pending.set(code, { challenge: q.get('code_challenge') as string, redirectUri });
      return res.writeHead(302, { location: `${redirectUri}?${new URLSearchParams({ code, state: q.get('state') ?? '' })}` }).end();
    }
    if (u.pathname === '/token' && req.method === 'POST') {
      const f = new URLSearchParams(await body(req));
      const code = f.get('code') ?? '';
      const p = pending.get(code);
      pending.delete(code); // once
      const verifier = f.get('code_verifier') ?? '';
      const s256 = createHash('sha256').update(verifier).digest('base64url');
      if (
        !p ||
        f.get('grant_type') !== 'authorization_code' ||
        f.get('client_id') !== o.clientId ||
        f.get('redirect_uri') !== p.redirectUri ||
        s256 !== p.challenge
      )
        return json(400, { error: 'invalid_grant' });
      const token = await new SignJWT(o.claims)
        .setProtectedHeader({ alg: 'ES256', kid: 'test-1' })
        .setIssuer(base)
        .setAudience(o.audience)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(privateKey);
      return json(200, { access_token: token, token_type: 'Bearer', expires_in: 300 });
    }
    return json(404, { error: 'not_found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    jwksUrl: `${base}/jwks`,
    authorizeRequests,
    codes,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
