import { useEffect, useState } from 'preact/hooks';
import { type ApiError, postJson, request, token } from './api.js';
import { go, html } from './router.js';

/**
 * OIDC sign-in: authorization code + PKCE (RFC 7636, S256) at the issuer the API trusts, the
 * console a public client (api.console_oidc_client_id). The verifier and state stay in this tab's
 * sessionStorage; the API redeems the code (POST /console/oidc/token, docs/console.md) and the
 * access token becomes the console's bearer token.
 */
interface OidcConfig {
  client_id: string;
  authorization_endpoint: string;
  scopes: string;
  redirect_path: string;
}

const PENDING_KEY = 'auditstream.oidc';

const b64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
const random = (n: number) => b64url(crypto.getRandomValues(new Uint8Array(n)));

async function start(c: OidcConfig, next: string): Promise<void> {
  const verifier = random(32); // 43 characters
  const state = random(16);
  const challenge = b64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))));
  sessionStorage.setItem(PENDING_KEY, JSON.stringify({ verifier, state, next }));
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: c.client_id,
    redirect_uri: location.origin + c.redirect_path,
    scope: c.scopes,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
  location.assign(`${c.authorization_endpoint}?${q}`);
}

/** The "Sign in with your identity provider" button, shown when the API has an OIDC client id. */
export function OidcSignIn(props: { next: string }) {
  const [config, setConfig] = useState<OidcConfig | null>(null);
  useEffect(() => {
    request('/console/oidc', {}, null).then(
      async (res) => setConfig((await res.json()) as OidcConfig),
      () => setConfig(null), // 404: not configured; the key field takes a pasted token
    );
  }, []);
  if (!config) return null;
  return html`<p><button type="button" class="oidc" onClick=${() => void start(config, props.next)}>Sign in with your identity provider</button></p>`;
}

/** /console/signin/oidc?code=…&state=…: the issuer's redirect back, traded for the access token once. */
export function OidcCallback(props: { params: URLSearchParams }) {
  const [error, setError] = useState('');
  useEffect(() => {
    const code = props.params.get('code');
    const state = props.params.get('state');
    const failed = props.params.get('error');
    const pending = JSON.parse(sessionStorage.getItem(PENDING_KEY) ?? 'null') as { verifier: string; state: string; next: string } | null;
    sessionStorage.removeItem(PENDING_KEY);
    history.replaceState(null, '', location.pathname); // the code is single-use: never keep it in history
    if (failed) return setError(`The identity provider refused the sign-in (${failed.slice(0, 100)}).`);
    if (!code || !pending || state !== pending.state) return setError('This sign-in answer does not belong to a sign-in started in this tab.');
    postJson<{ token: string }>('/console/oidc/token', { code, code_verifier: pending.verifier, redirect_uri: location.origin + location.pathname }, null).then(
      (r) => {
        token.set(r.token);
        go(pending.next || '/console/search', true);
      },
      (err: ApiError) => setError(`The sign-in could not be completed (${err.message}).`),
    );
  }, []);
  return html`<main id="main" class="signin">
    <h1>auditstream console</h1>
    ${error ? html`<p class="error" role="alert">${error}</p><p><a href="/console/signin">Sign in again</a></p>` : html`<p>Signing in…</p>`}
  </main>`;
}
