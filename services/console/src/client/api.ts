/** The console's one HTTP client: the bearer token from sessionStorage, problem documents as errors. */

import type { ApiEvent } from '@auditstream/schemas';

export type { ApiEvent };

const TOKEN_KEY = 'auditstream.token';
const EMBED_KEY = 'auditstream.viewer_token';

/** The embed pages read with the viewer token only, never with a signed-in key of the same origin. */
const inEmbed = () => location.pathname === '/console/embed' || location.pathname.startsWith('/console/embed/');

export const token = {
  get: (): string | null => sessionStorage.getItem(inEmbed() ? EMBED_KEY : TOKEN_KEY),
  set: (t: string) => sessionStorage.setItem(TOKEN_KEY, t),
  setViewer: (t: string) => sessionStorage.setItem(EMBED_KEY, t),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** An RFC 9457 problem answer (or a network failure, status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function request(path: string, init: RequestInit = {}, bearer: string | null = token.get()): Promise<Response> {
  const headers = new Headers(init.headers);
  if (bearer) headers.set('authorization', `Bearer ${bearer}`);
  let res: Response;
  try {
    res = await fetch(path, { ...init, headers });
  } catch {
    throw new ApiError(0, 'the API did not answer');
  }
  if (!res.ok) {
    let detail = res.statusText;
    try {
      const p = (await res.json()) as { detail?: string };
      if (p.detail) detail = p.detail;
    } catch {}
    throw new ApiError(res.status, detail);
  }
  return res;
}

export async function getJson<T>(path: string, params?: URLSearchParams): Promise<T> {
  const res = await request(params && [...params].length ? `${path}?${params}` : path);
  return (await res.json()) as T;
}

export async function postJson<T>(path: string, body: unknown, bearer?: string | null): Promise<T> {
  const res = await request(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }, bearer);
  return (await res.json()) as T;
}

export interface Timeseries {
  interval: string;
  interval_s: number;
  series: { group: string | null; total: number; points: { t: string; count: number }[] }[];
}
