import { createHash, randomBytes } from 'node:crypto';
import { buildConsoleAssets, type ConsoleAsset, consoleCsp } from '@auditstream/console';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { badParameter, ProblemError } from '../problem.js';
import { consoleOidcRoutes } from './console-oidc.js';
import type { RouteContext } from './context.js';

/** Most one-time sign-in codes held at once (per process); the oldest goes first beyond it. */
const MAX_CODES = 1000;

/**
 * The web console (services/console, docs/console.md): its assets, built at start and served
 * from memory under a strict CSP, and the one-time sign-in codes. A code stands for the bearer
 * token that minted it, so a sign-in link never carries the long-lived key: the page trades the
 * code (from the URL fragment, which no server or proxy log sees) for the token once, and keeps the
 * token in sessionStorage. Codes live in this process only: with several replicas, a link works on
 * the replica that minted it.
 */
export function consoleRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { config, logger } = ctx;
  if (!config.console_enabled) return;
  const assets = buildConsoleAssets();
  // A build error is answered per request (500) and logged once; the API itself keeps serving.
  assets.catch((err: unknown) => logger.error({ err_code: (err as { code?: string }).code ?? 'console_build' }, 'the console assets did not build'));
  const codes = new Map<string, { token: string; expiresAt: number }>();

  const send = async (reply: FastifyReply, name: string, frameAncestors?: string) => {
    const asset: ConsoleAsset | undefined = (await assets).get(name);
    if (!asset) throw new ProblemError('not_found', 'no such console asset');
    if (reply.request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
    return reply
      .header('content-security-policy', consoleCsp(frameAncestors))
      .header('referrer-policy', 'no-referrer')
      .header('cache-control', 'no-cache')
      .header('etag', asset.etag)
      .type(asset.type)
      .send(asset.body);
  };
  const page = { config: { public: true }, schema: { hide: true } } as const;
  app.get('/console', page, (_request, reply) => send(reply, 'index.html'));
  app.get('/console/embed', page, (_request, reply) => send(reply, 'index.html', config.console_frame_ancestors));
  app.get<{ Params: { '*': string } }>('/console/*', page, (request, reply) => {
    const path = request.params['*'];
    if (path.startsWith('assets/')) return send(reply, path);
    return send(reply, 'index.html', path.startsWith('embed/') ? config.console_frame_ancestors : undefined);
  });

  app.post(
    '/v1/console/signin-codes',
    {
      config: { permission: 'events:read', problems: [401, 403, 429] },
      schema: {
        operationId: 'createConsoleSigninCode',
        summary: 'A one-time code that signs the console in with this credential',
        tags: ['console'],
        response: {
          200: {
            type: 'object',
            required: ['code', 'expires_at'],
            properties: { code: { type: 'string' }, expires_at: { type: 'string', format: 'date-time' } },
          },
        },
      },
    },
    async (request) => {
      const token = /^Bearer +([^\s]+) *$/i.exec(request.headers.authorization ?? '')?.[1] as string;
      const now = Date.now();
      for (const [k, v] of codes) if (v.expiresAt <= now || codes.size >= MAX_CODES) codes.delete(k);
      const code = randomBytes(32).toString('base64url');
      const expiresAt = now + config.console_signin_ttl_s * 1000;
      codes.set(digest(code), { token, expiresAt });
      return { code, expires_at: new Date(expiresAt).toISOString() };
    },
  );

  app.post<{ Body: { code: string } }>(
    '/console/session',
    {
      config: { public: true },
      schema: {
        hide: true,
        body: { type: 'object', required: ['code'], additionalProperties: false, properties: { code: { type: 'string', minLength: 1, maxLength: 128 } } },
      },
    },
    async (request, reply) => {
      const key = digest(request.body.code);
      const entry = codes.get(key);
      codes.delete(key); // once, whatever happens next
      if (!entry || entry.expiresAt <= Date.now()) throw badParameter('code', 'is unknown, used or expired', 'body');
      return reply.header('cache-control', 'no-store').send({ token: entry.token });
    },
  );
  consoleOidcRoutes(app, ctx);
}

const digest = (code: string) => createHash('sha256').update(code).digest('base64url');
