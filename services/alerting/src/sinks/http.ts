import { AuditstreamError } from '@auditstream/core';
import type { Alert } from '../alert.js';

/**
 * POSTs a body and maps the outcome to errors the retry helper understands: network
 * failures, timeouts, 429 and 5xx are retriable; other 4xx are not (retrying a rejected
 * payload changes nothing). Messages name the sink, never the URL (Slack's is a secret).
 */
export async function post(sink: string, url: string, body: string, headers: Record<string, string>, timeoutMs: number, signal: AbortSignal): Promise<void> {
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
  if (res.ok) return;
  if (res.status === 429 || res.status >= 500)
    throw new AuditstreamError(res.status === 429 ? 'SINK_HTTP_429' : 'SINK_HTTP_5XX', `${sink}: endpoint answered ${res.status}`, { retriable: true });
  throw new AuditstreamError('SINK_HTTP_4XX', `${sink}: endpoint rejected the alert with ${res.status}`, { retriable: false });
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
