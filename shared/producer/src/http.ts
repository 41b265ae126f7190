import type { Category, Outcome } from '@auditstream/schemas';
import type { AuditProducer } from './producer.js';
import type { PublishInput } from './validate.js';

/**
 * Records one audit event per HTTP request. The app says who and what (`describe`); the
 * helper fills the rest: outcome from the status code, occurred_at = request start,
 * request_id (x-request-id), trace_id (traceparent), actor ip and user agent, and
 * http_method / http_status attributes. Publishing never blocks or fails the response:
 * errors go to `onError`.
 */
export interface HttpRequestLike {
  method?: string | undefined;
  url?: string | undefined;
  headers: Record<string, string | string[] | undefined>;
  ip?: string | undefined;
  socket?: { remoteAddress?: string | undefined } | undefined;
}

export interface HttpResponseLike {
  statusCode: number;
  once(event: 'finish' | 'close', listener: () => void): unknown;
}

/** What `describe` returns; the rest is filled in. Return null to skip the request (health checks). */
export type AuditHttpFields = Omit<PublishInput, 'outcome' | 'service' | 'category'> & {
  category?: Category;
  /** Overrides the status-code mapping. */
  outcome?: Outcome;
  service?: string;
};

export interface AuditHttpOptions<Req, Res> {
  /** Emitting service name. */
  service: string;
  describe: (req: Req, res: Res) => AuditHttpFields | null | undefined;
  /** Default category when describe() gives none. Default resource_access. */
  category?: Category;
  /** Publishing errors (validation, buffer full, delivery): log them; the request is unaffected. */
  onError?: (err: unknown, req: Req) => void;
  /** Where the app runs behind a trusted proxy, derive the client ip yourself in describe(). */
  host?: string;
  region?: string;
}

/** 2xx/3xx success, 401/403 denied, other 4xx failure, 5xx (and anything else) error. */
export function outcomeFromStatus(status: number): Outcome {
  if (status >= 200 && status < 400) return 'success';
  if (status === 401 || status === 403) return 'denied';
  if (status >= 400 && status < 500) return 'failure';
  return 'error';
}

function header(req: HttpRequestLike, name: string): string | undefined {
  const v = req.headers[name];
  // An empty header is no value: the contract rejects "" in optional strings.
  return (Array.isArray(v) ? v[0] : v) || undefined;
}

const TRACEPARENT_RE = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;

function record<Req extends HttpRequestLike, Res>(
  producer: Pick<AuditProducer, 'publish'>,
  opts: AuditHttpOptions<Req, Res>,
  req: Req,
  res: Res,
  status: number,
  startedMs: number,
): void {
  let fields: AuditHttpFields | null | undefined;
  try {
    fields = opts.describe(req, res);
  } catch (err) {
    opts.onError?.(err, req);
    return;
  }
  if (!fields) return;
  const ip = fields.actor?.ip ?? req.ip ?? req.socket?.remoteAddress ?? null;
  const traceparent = header(req, 'traceparent');
  const event: PublishInput = {
    occurred_at: startedMs * 1000,
    request_id: header(req, 'x-request-id') ?? null,
    trace_id: traceparent ? (TRACEPARENT_RE.exec(traceparent)?.[1] ?? null) : null,
    host: opts.host ?? null,
    region: opts.region ?? null,
    ...fields,
    actor: { ...fields.actor, ip: ip?.startsWith('::ffff:') ? ip.slice(7) : ip, user_agent: fields.actor?.user_agent ?? header(req, 'user-agent') ?? null },
    category: fields.category ?? opts.category ?? 'resource_access',
    outcome: fields.outcome ?? outcomeFromStatus(status),
    service: fields.service ?? opts.service,
    attributes: { http_method: req.method ?? 'UNKNOWN', http_status: String(status), ...fields.attributes },
  };
  producer.publish(event).catch((err: unknown) => opts.onError?.(err, req));
}

/** Express/Connect-style middleware: `app.use(auditMiddleware(producer, {...}))`. */
export function auditMiddleware<Req extends HttpRequestLike, Res extends HttpResponseLike>(
  producer: Pick<AuditProducer, 'publish'>,
  opts: AuditHttpOptions<Req, Res>,
): (req: Req, res: Res, next: (err?: unknown) => void) => void {
  return (req, res, next) => {
    const started = Date.now();
    let done = false;
    const onEnd = () => {
      if (done) return;
      done = true;
      record(producer, opts, req, res, res.statusCode, started);
    };
    // finish: the response was handed to the OS; close without finish: the client went away.
    res.once('finish', onEnd);
    res.once('close', onEnd);
    next();
  };
}

/** Fastify `onResponse` hook: `app.addHook('onResponse', auditFastifyHook(producer, {...}))`. */
export function auditFastifyHook<Req extends HttpRequestLike, Reply extends { statusCode: number; elapsedTime?: number }>(
  producer: Pick<AuditProducer, 'publish'>,
  opts: AuditHttpOptions<Req, Reply>,
): (request: Req, reply: Reply) => Promise<void> {
  return async (request, reply) => {
    // onResponse runs after the response was sent: the request started elapsedTime ago.
    const started = Date.now() - Math.round(reply.elapsedTime ?? 0);
    record(producer, opts, request, reply, reply.statusCode, started);
  };
}
