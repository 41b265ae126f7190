import type { FastifyInstance } from 'fastify';
import { badParameter, ProblemError } from '../problem.js';
import type { RouteContext } from './context.js';

interface Discovery {
  authorization_endpoint: string;
  token_endpoint: string;
}

const TIMEOUT_MS = 5000;
const REDIRECT_PATH = '/console/signin/oidc';

/**
 * OIDC sign-in of the console (docs/console.md "Sign-in"): authorization code + PKCE, the
 * console being a public client (`api.console_oidc_client_id`) of the issuer the API already
 * trusts for bearer JWTs (`api.oidc_issuer`). The browser keeps the PKCE verifier and goes to the
 * issuer's authorization endpoint; back at /console/signin/oidc it hands the code and verifier to
 * `POST /console/oidc/token`, which redeems them at the issuer's token endpoint and returns the
 * access token, which the console then sends as its bearer token like an API key (the API checks
 * it on every call, role and tenants from its claims). The exchange runs here rather than in the
 * browser so that the console's CSP keeps `connect-src 'self'` and the issuer needs no CORS.
 * Without a client id these routes answer 404 and the sign-in page takes a pasted token.
 */
export function consoleOidcRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { config, logger } = ctx;
  const clientId = config.console_oidc_client_id;
  const issuer = config.oidc_issuer;
  let discovery: Promise<Discovery> | undefined;

  async function discover(): Promise<Discovery> {
    if (!issuer) throw new ProblemError('not_found', 'OIDC sign-in is not configured (api.console_oidc_client_id)');
    discovery ??= (async () => {
      const res = await fetch(`${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
      if (!res.ok) throw new Error(`discovery answered HTTP ${res.status}`);
      const doc = (await res.json()) as Partial<Discovery>;
      for (const k of ['authorization_endpoint', 'token_endpoint'] as const) {
        if (typeof doc[k] !== 'string' || !/^https?:\/\//.test(doc[k] as string)) throw new Error(`discovery has no ${k}`);
      }
      return doc as Discovery;
    })();
    try {
      return await discovery;
    } catch (err) {
      discovery = undefined; // tried again on the next sign-in
      logger.warn({ err_message: (err as Error).message?.slice(0, 200) }, 'OIDC discovery failed');
      throw new ProblemError('unavailable', 'the identity provider\u2019s configuration could not be read; retry later', { cause: err });
    }
  }

  const hidden = { config: { public: true }, schema: { hide: true } } as const;
  app.get('/console/oidc', hidden, async (_request, reply) => {
    if (!clientId) throw new ProblemError('not_found', 'OIDC sign-in is not configured (api.console_oidc_client_id)');
    const d = await discover();
    return reply
      .header('cache-control', 'no-store')
      .send({ client_id: clientId, authorization_endpoint: d.authorization_endpoint, scopes: config.console_oidc_scopes, redirect_path: REDIRECT_PATH });
  });

  app.post<{ Body: { code: string; code_verifier: string; redirect_uri: string } }>(
    '/console/oidc/token',
    {
      config: { public: true },
      schema: {
        hide: true,
        body: {
          type: 'object',
          required: ['code', 'code_verifier', 'redirect_uri'],
          additionalProperties: false,
          properties: {
            code: { type: 'string', minLength: 1, maxLength: 2048 },
            // RFC 7636: 43 to 128 unreserved characters.
            code_verifier: { type: 'string', pattern: '^[A-Za-z0-9._~-]{43,128}$' },
            redirect_uri: { type: 'string', maxLength: 2048, pattern: `^https?://[^/?#]+${REDIRECT_PATH}$` },
          },
        },
      },
    },
    async (request, reply) => {
      if (!clientId) throw new ProblemError('not_found', 'OIDC sign-in is not configured (api.console_oidc_client_id)');
      const d = await discover();
      let res: Response;
      try {
        res = await fetch(d.token_endpoint, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
          body: new URLSearchParams({ grant_type: 'authorization_code', client_id: clientId, ...request.body }),
          signal: AbortSignal.timeout(TIMEOUT_MS),
        });
      } catch (err) {
        throw new ProblemError('unavailable', 'the identity provider\u2019s token endpoint did not answer; retry later', { cause: err });
      }
      // The issuer's answer is not passed on (it may name the code); only whether it worked.
      if (res.status >= 500) throw new ProblemError('unavailable', `the identity provider\u2019s token endpoint answered HTTP ${res.status}`);
      const body = res.ok ? ((await res.json().catch(() => ({}))) as { access_token?: unknown }) : {};
      if (typeof body.access_token !== 'string' || body.access_token.length === 0)
        throw badParameter('code', 'was not accepted by the identity provider (unknown, used, expired, or a verifier that does not match)', 'body');
      return reply.header('cache-control', 'no-store').send({ token: body.access_token });
    },
  );
}
