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
  if (ca && url.startsWith('https:')) return postWithCa(sink, url, body, headers, timeoutMs, signal, ca);
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', 'user-agent': 'auditstream-alerting', ...headers },
      signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
      redirect: 'error',
    });
  } catch (cause) {
    const name = (cause as Error).name;
    if (name === 'TimeoutError') throw new AuditstreamError('SINK_TIMEOUT', `${sink}: no answer within ${timeoutMs} ms`, { retriable: true, cause });
    if (name === 'AbortError') throw new AuditstreamError('SINK_ABORTED', `${sink}: delivery aborted (shutting down)`, { retriable: false, cause });
    throw new AuditstreamError('SINK_UNREACHABLE', `${sink}: cannot reach the endpoint`, { retriable: true, cause });
  }
  // Drain the body so the connection can be reused.
  await res.arrayBuffer().catch(() => undefined);
  statusOutcome(sink, res.status);
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
function postWithCa(
  sink: string,
  url: string,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
  signal: AbortSignal,
  ca: Buffer,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      {
        method: 'POST',
        ca,
        rejectUnauthorized: true,
        minVersion: 'TLSv1.2',
        headers: { 'content-type': 'application/json', 'user-agent': 'auditstream-alerting', 'content-length': String(Buffer.byteLength(body)), ...headers },
        signal,
        timeout: timeoutMs,
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
      if (cause.name === 'TimeoutError') reject(new AuditstreamError('SINK_TIMEOUT', `${sink}: no answer within ${timeoutMs} ms`, { retriable: true, cause }));
      else if (cause.name === 'AbortError')
        reject(new AuditstreamError('SINK_ABORTED', `${sink}: delivery aborted (shutting down)`, { retriable: false, cause }));
      else if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(cause.code ?? ''))
        reject(new AuditstreamError('SINK_TLS', `${sink}: the endpoint's certificate did not verify (${cause.code})`, { retriable: false, cause }));
      else reject(new AuditstreamError('SINK_UNREACHABLE', `${sink}: cannot reach the endpoint`, { retriable: true, cause }));
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
