import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, postJson, token } from './api.js';
import { EmbedApp } from './embed.js';
import { HealthPage } from './health.js';
import { OidcCallback, OidcSignIn } from './oidc.js';
import { ActorPage, AlertsPage, EventPage, IntegrityPage } from './pages.js';
import { go, html, Link, useLocation } from './router.js';
import { SavedPage } from './saved.js';
import { SearchPage } from './search.js';
import './console.css';

/**
 * Sign-in: an API key (or an access token the API accepts) typed in, the one-time code of a sign-in
 * link (#code=…) traded for the token once, or OIDC (oidc.ts) when the API has a client id.
 */
function SignIn(props: { hash: string; next: string }) {
  const [error, setError] = useState('');
  const code = new URLSearchParams(props.hash.slice(1)).get('code');
  useEffect(() => {
    if (!code) return;
    history.replaceState(null, '', location.pathname); // the code is single-use: never keep it in history
    postJson<{ token: string }>('/console/session', { code }, null).then(
      (r) => {
        token.set(r.token);
        go('/console/search', true);
      },
      (err: ApiError) => setError(`This sign-in link cannot be used (${err.message}); sign in with an API key.`),
    );
  }, [code]);
  const submit = (e: Event) => {
    e.preventDefault();
    const key = String(new FormData(e.currentTarget as HTMLFormElement).get('key') ?? '').trim();
    if (!key) return;
    token.set(key);
    go(props.next || '/console/search', true);
  };
  return html`<main id="main" class="signin">
    <h1>auditstream console</h1>
    <form onSubmit=${submit}>
      <label>API key or access token<input name="key" type="password" autocomplete="off" required /></label>
      <button type="submit">Sign in</button>
    </form>
    <${OidcSignIn} next=${props.next} />
    ${error && html`<p class="error" role="alert">${error}</p>`}
  </main>`;
}

const NAV: [string, string][] = [
  ['/console/search', 'Search'],
  ['/console/saved', 'Saved searches'],
  ['/console/alerts', 'Alerts'],
  ['/console/integrity', 'Integrity'],
  ['/console/health', 'Pipeline health'],
];

function App() {
  const { path, params, hash } = useLocation();
  if (path === '/console/embed' || path.startsWith('/console/embed/')) return html`<${EmbedApp} path=${path} params=${params} />`;
  if (path === '/console/signin/oidc') return html`<${OidcCallback} params=${params} />`;
  if (path === '/console/signin' || (!token.get() && !path.startsWith('/console/embed'))) {
    return html`<${SignIn} hash=${hash} next=${path === '/console/signin' ? '' : location.pathname + location.search} />`;
  }
  let page: unknown;
  const m = /^\/console\/(events|actors)\/([^/]+)$/.exec(path);
  const opts = { path: '/console/search', detailBase: '/console/events' };
  if (m?.[1] === 'events') page = html`<${EventPage} id=${decodeURIComponent(m[2] as string)} params=${params} searchPath="/console/search" />`;
  else if (m?.[1] === 'actors') page = html`<${ActorPage} id=${decodeURIComponent(m[2] as string)} params=${params} />`;
  else if (path === '/console/alerts') page = html`<${AlertsPage} params=${params} />`;
  else if (path === '/console/health') page = html`<${HealthPage} />`;
  else if (path === '/console/saved') page = html`<${SavedPage} />`;
  else if (path === '/console/integrity') page = html`<${IntegrityPage} />`;
  else page = html`<${SearchPage} params=${params} options=${opts} />`;
  return html`<header class="top">
      <span class="brand">auditstream</span>
      <nav aria-label="Console">${NAV.map(([href, label]) => html`<${Link} href=${href} class=${path.startsWith(href) ? 'current' : ''}>${label}<//>`)}</nav>
      <button type="button" class="signout" onClick=${() => {
        token.clear();
        go('/console/signin');
      }}>Sign out</button>
    </header>
    <main id="main">${page}</main>`;
}

const root = document.getElementById('app');
if (root) render(html`<${App} />`, root);
// A 401 anywhere means the token is gone or revoked: back to sign-in.
window.addEventListener('unhandledrejection', (e) => {
  if (e.reason instanceof ApiError && e.reason.status === 401 && !location.pathname.startsWith('/console/embed')) {
    token.clear();
    go('/console/signin');
  }
});
