import { token } from './api.js';
import { EventPage } from './pages.js';
import { html } from './router.js';
import { SearchPage } from './search.js';

interface ViewerClaims {
  tenant: string;
  filters: Record<string, string>;
  exp: number;
}

/** The claims of a viewer token (`avt_<base64url JSON>.<mac>`), for display only: the API enforces them. */
function claimsOf(t: string | null): ViewerClaims | undefined {
  const body = t?.startsWith('avt_') ? t.slice(4, t.indexOf('.')) : undefined;
  if (!body) return undefined;
  try {
    return JSON.parse(atob(body.replace(/-/g, '+').replace(/_/g, '/'))) as ViewerClaims;
  } catch {
    return undefined;
  }
}

/**
 * The embeddable viewer: search, results and detail for the viewer token's tenant and fixed
 * filters only. The token arrives once in `?token=`; it is moved to sessionStorage and out of the
 * URL (and its history entry) at once.
 */
export function EmbedApp(props: { path: string; params: URLSearchParams }) {
  const fromUrl = props.params.get('token');
  if (fromUrl) {
    token.setViewer(fromUrl);
    props.params.delete('token');
    const rest = props.params.toString();
    history.replaceState(null, '', rest ? `${location.pathname}?${rest}` : location.pathname);
  }
  const claims = claimsOf(token.get());
  if (!claims) return html`<main id="main"><h1>Viewer</h1><p class="error" role="alert">This viewer link has no valid token.</p></main>`;
  const fixed = ['tenant', ...Object.keys(claims.filters)];
  const m = /^\/console\/embed\/events\/([^/]+)$/.exec(props.path);
  const page = m
    ? html`<${EventPage} id=${decodeURIComponent(m[1] as string)} params=${props.params} searchPath="/console/embed" embed=${true} />`
    : html`<${SearchPage} params=${props.params} options=${{ path: '/console/embed', detailBase: '/console/embed/events', fixed, exportable: false }} />`;
  return html`<header class="top"><span class="brand">Audit log · ${claims.tenant}</span>
      <span class="muted">${Object.entries(claims.filters)
        .map(([k, v]) => `${k} = ${v}`)
        .join(', ')}</span>
      <span class="muted">until ${new Date(claims.exp * 1000).toISOString().slice(0, 16).replace('T', ' ')} UTC</span></header>
    <main id="main">${page}</main>`;
}
