import { useState } from 'preact/hooks';
import { getJson, postJson, request } from './api.js';
import { html, Link, useLoad } from './router.js';
import { FILTERS } from './state.js';

interface SavedSearch {
  id: string;
  name: string;
  tenant: string | null;
  query: Record<string, string>;
  updated_at: string;
}

/** The saved query of a console search URL: its filters and its range (relative, or from/to). */
function savedQuery(params: URLSearchParams): Record<string, string> {
  const q: Record<string, string> = {};
  for (const f of FILTERS) {
    const v = params.get(f);
    if (v) q[f] = v;
  }
  const from = params.get('from');
  const to = params.get('to');
  if (from && to) Object.assign(q, { from, to });
  else q.range = params.get('range') ?? '24h';
  return q;
}

/** "Save this search" (POST /v1/saved-searches): stored server-side for this credential and tenant. */
export function SaveSearch(props: { params: URLSearchParams }) {
  const [state, setState] = useState('');
  const save = async (e: Event) => {
    e.preventDefault();
    const name = String(new FormData(e.currentTarget as HTMLFormElement).get('name') ?? '').trim();
    if (!name) return;
    try {
      await postJson('/v1/saved-searches', { name, query: savedQuery(props.params) });
      setState(`Saved as "${name}"`);
    } catch (err) {
      setState(`Not saved: ${(err as Error).message}`);
    }
  };
  return html`<form class="save" onSubmit=${save}>
    <label>Save this search as<input name="name" maxlength="200" /></label>
    <button type="submit">Save</button>
    <span aria-live="polite" data-testid="save-state">${state}</span>
  </form>`;
}

export function SavedPage() {
  const [version, setVersion] = useState(0);
  const list = useLoad(`saved${version}`, () => getJson<{ data: SavedSearch[] }>('/v1/saved-searches'));
  const remove = async (id: string) => {
    await request(`/v1/saved-searches/${encodeURIComponent(id)}`, { method: 'DELETE' }).catch(() => {});
    setVersion((v) => v + 1);
  };
  return html`<section aria-labelledby="saved-h">
    <h1 id="saved-h">Saved searches</h1>
    ${list.error && html`<p class="error" role="alert">${list.error.message}</p>`}
    <table data-testid="saved"><thead><tr><th scope="col">Name</th><th scope="col">Tenant</th><th scope="col">Filters</th><th scope="col">Saved (UTC)</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>${(list.data?.data ?? []).map(
        (s) => html`<tr>
          <td><${Link} href=${`/console/search?${new URLSearchParams(s.query)}`}>${s.name}<//></td>
          <td>${s.tenant ?? 'every tenant'}</td>
          <td><code>${Object.entries(s.query)
            .map(([k, v]) => `${k}=${v}`)
            .join(' ')}</code></td>
          <td>${s.updated_at.replace('T', ' ').slice(0, 19)}</td>
          <td><button type="button" onClick=${() => remove(s.id)} aria-label=${`Delete ${s.name}`}>Delete</button></td>
        </tr>`,
      )}</tbody>
    </table>
    ${list.data && list.data.data.length === 0 && html`<p>No saved searches yet: use "Save this search" on a search.</p>`}
  </section>`;
}
