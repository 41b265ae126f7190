import { request as httpsRequest } from 'node:https';
import { AuditstreamError } from '@auditstream/core';
import type { Alert } from '../alert.js';

/**
 * POSTs a body and maps the outcome to errors the retry helper understands: network
 * failures, timeouts, 429 and 5xx are retriable; other 4xx are not (retrying a rejected
 * payload changes nothing). Messages name the sink, never the URL (Slack's is a secret).
 */
export async function post(
  sink: string,
  url: string,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
  signal: AbortSignal,
  /** PEM CA bundle verifying an https endpoint instead of the system CAs (sinks' ca_file). */
  ca?: Buffer,
): Promise<void> {
  const req: PostRequest = { sink, url, body, headers, timeoutMs, signal };
  if (ca && url.startsWith('https:')) return postWithCa(req, ca);
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      body,
      headers: { ...BASE_HEADERS, ...headers },
      signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
      redirect: 'error',
    });
  } catch (cause) {
    throw requestError(req, cause as Error);
  }
  // Drain the body so the connection can be reused.
  await res.arrayBuffer().catch(() => undefined);
  statusOutcome(sink, res.status);
}

const BASE_HEADERS = { 'content-type': 'application/json', 'user-agent': 'auditstream-alerting' };

/** One POST, whichever client sends it; `headers` are the sink's own, sent after BASE_HEADERS. */
interface PostRequest {
  sink: string;
  url: string;
  body: string;
  headers: Record<string, string>;
  timeoutMs: number;
  signal: AbortSignal;
}

/** A request that got no answer: a timeout or network failure is retriable, an abort (shutdown) is not. */
function requestError(req: PostRequest, cause: Error): AuditstreamError {
  if (cause.name === 'TimeoutError')
    return new AuditstreamError('SINK_TIMEOUT', `${req.sink}: no answer within ${req.timeoutMs} ms`, { retriable: true, cause });
  if (cause.name === 'AbortError') return new AuditstreamError('SINK_ABORTED', `${req.sink}: delivery aborted (shutting down)`, { retriable: false, cause });
  return new AuditstreamError('SINK_UNREACHABLE', `${req.sink}: cannot reach the endpoint`, { retriable: true, cause });
}

function statusOutcome(sink: string, status: number): void {
  if (status >= 200 && status < 300) return;
  if (status === 429 || status >= 500)
    throw new AuditstreamError(status === 429 ? 'SINK_HTTP_429' : 'SINK_HTTP_5XX', `${sink}: endpoint answered ${status}`, { retriable: true });
  throw new AuditstreamError('SINK_HTTP_4XX', `${sink}: endpoint rejected the alert with ${status}`, { retriable: false });
}

/**
 * The same POST over node:https with a private CA (fetch takes none). The certificate and host
 * name are always verified; a verification failure is not retriable (it will not fix itself).
 */
function postWithCa(r: PostRequest, ca: Buffer): Promise<void> {
  const { sink, body } = r;
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      r.url,
      {
        method: 'POST',
        ca,
        rejectUnauthorized: true,
        minVersion: 'TLSv1.2',
        headers: { ...BASE_HEADERS, 'content-length': String(Buffer.byteLength(body)), ...r.headers },
        signal: r.signal,
        timeout: r.timeoutMs,
      },
      (res) => {
        res.resume();
        res.on('end', () => {
          try {
            statusOutcome(sink, res.statusCode ?? 0);
            resolve();
          } catch (err) {
            reject(err);
          }
        });
        res.on('error', (cause) => reject(new AuditstreamError('SINK_UNREACHABLE', `${sink}: connection failed`, { retriable: true, cause })));
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { name: 'TimeoutError' })));
    req.on('error', (cause: NodeJS.ErrnoException) => {
      if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(cause.code ?? '') && cause.name !== 'TimeoutError' && cause.name !== 'AbortError')
        reject(new AuditstreamError('SINK_TLS', `${sink}: the endpoint's certificate did not verify (${cause.code})`, { retriable: false, cause }));
      else reject(requestError(r, cause));
    });
    req.end(body);
  });
}

/** The JSON form of an alert for HTTP sinks: times as ISO-8601 strings. */
export function alertJson(alert: Alert): Record<string, unknown> {
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    ...alert,
    window_start: iso(alert.window_start),
    window_end: iso(alert.window_end),
    first_event_at: iso(alert.first_event_at),
    last_event_at: iso(alert.last_event_at),
    fired_at: iso(alert.fired_at),
    updated_at: iso(alert.updated_at),
  };
}
