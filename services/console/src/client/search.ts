import { useState } from 'preact/hooks';
import { type ApiError, type ApiEvent, getJson, request, type Timeseries } from './api.js';
import { Histogram } from './histogram.js';
import { go, html, Link, useLoad } from './router.js';
import { SaveSearch } from './saved.js';
import { apiFilters, DEFAULT_RANGE, ENUM_FILTERS, ENUMS, pickInterval, QUICK_RANGES, resolveRange, TEXT_FILTERS, withParams } from './state.js';
import { EventTable } from './table.js';

const LABELS: Record<string, string> = {
  q: 'Free text',
  tenant: 'Tenant',
  actor_id: 'Actor id',
  action: 'Action',
  action_prefix: 'Action prefix',
  resource_type: 'Resource type',
  resource_id: 'Resource id',
  service: 'Service',
  source_ip: 'Source IP',
  session_id: 'Session id',
  actor_type: 'Actor type',
  category: 'Category',
  outcome: 'Outcome',
  severity: 'Severity',
};

// A relative range is resolved once per URL, so re-renders do not re-query with a new "now".
const nowOf = new Map<string, number>();
export function stableNow(search: string): number {
  let t = nowOf.get(search);
  if (t === undefined) {
    t = Date.now();
    nowOf.set(search, t);
  }
  return t;
}

let marked = false;
/** Performance mark of the first results table shown in this page load (read by the browser test). */
function markFirstResults() {
  if (marked) return;
  marked = true;
  performance.mark('auditstream:first-results');
}

export interface SearchOptions {
  path: string;
  detailBase: string;
  /** Filters fixed by the credential (the embed token): not shown as editable. */
  fixed?: readonly string[];
  exportable?: boolean;
}

export function SearchPage(props: { params: URLSearchParams; options: SearchOptions }) {
  const { params, options } = props;
  const now = stableNow(location.search);
  const filters = apiFilters(params, now);
  const range = resolveRange(params, now);
  const key = filters.toString();
  const pageParams = new URLSearchParams(filters);
  pageParams.set('limit', params.get('limit') ?? '50');
  const cursor = params.get('cursor');
  if (cursor) pageParams.set('cursor', cursor);
  const page = useLoad(pageParams.toString(), () => getJson<{ data: ApiEvent[]; next_cursor: string | null }>('/v1/events', pageParams));
  const ts = new URLSearchParams(filters);
  ts.set('interval', pickInterval(range.from, range.to));
  const series = useLoad(ts.toString(), () => getJson<Timeseries>('/v1/stats/timeseries', ts));
  const total = series.data ? (series.data.series[0]?.total ?? 0) : undefined;
  if (page.data) queueMicrotask(markFirstResults);
  const at = (url: string) => url.replace('/console/search', options.path);

  return html`<section aria-labelledby="search-h">
    <h1 id="search-h">Search</h1>
    <${SearchForm} params=${params} options=${options} key=${key} />
    <${Histogram} from=${range.from} to=${range.to} data=${series.data}
      onZoom=${(from: string, to: string) => go(at(withParams(params, { from, to, range: undefined })))} />
    <p class="summary" aria-live="polite">
      ${total === undefined ? (series.error ? html`<span class="error">${series.error.message}</span>` : 'Counting…') : html`<strong data-testid="total">${total.toLocaleString('en')}</strong> events`}
      ${' '}from ${range.from.replace('T', ' ')} to ${range.to.replace('T', ' ')}
      ${options.exportable !== false && html`<${ExportButtons} filters=${filters} />`}
    </p>
    ${options.exportable !== false && html`<${SaveSearch} params=${params} />`}
    ${
      page.error &&
      html`<p class="error" role="alert" data-testid=${(page.error as ApiError).status === 401 ? 'expired' : 'error'}>${
        (page.error as ApiError).status === 401
          ? 'This credential is not valid any more (expired or revoked): ask for a new link or sign in again.'
          : page.error.message
      }</p>`
    }
    ${page.loading && !page.data && html`<p>Loading…</p>`}
    ${
      page.data &&
      html`<${EventTable} events=${page.data.data} params=${params} detailBase=${options.detailBase} searchPath=${options.path} showTenant=${!options.fixed?.includes('tenant')} />
      <nav class="pager" aria-label="Result pages">
        ${cursor && html`<${Link} href=${at(withParams(params, { cursor: undefined }))}>First page<//>`}
        ${page.data.next_cursor ? html`<${Link} href=${at(withParams(params, { cursor: page.data.next_cursor }))} data-testid="next">Next page<//>` : html`<span class="muted">No more results</span>`}
      </nav>`
    }
  </section>`;
}

function SearchForm(props: { params: URLSearchParams; options: SearchOptions }) {
  const { params, options } = props;
  const fixed = new Set(options.fixed ?? []);
  const submit = (e: Event) => {
    e.preventDefault();
    const data = new FormData(e.currentTarget as HTMLFormElement);
    const next = new URLSearchParams();
    for (const [k, v] of data) if (typeof v === 'string' && v.trim() !== '') next.set(k, v.trim());
    for (const f of fixed) {
      const v = params.get(f);
      if (v) next.set(f, v);
    }
    if (next.get('range') === 'custom') next.delete('range');
    else {
      next.delete('from');
      next.delete('to');
    }
    go(`${options.path}?${next}`);
  };
  const absolute = Boolean(params.get('from') && params.get('to'));
  return html`<form class="search" onSubmit=${submit} role="search">
    <div class="fields">
      ${TEXT_FILTERS.filter((f) => !fixed.has(f)).map(
        (f) => html`<label>${LABELS[f]}<input name=${f} value=${params.get(f) ?? ''} type=${f === 'q' ? 'search' : 'text'} /></label>`,
      )}
      ${ENUM_FILTERS.filter((f) => !fixed.has(f)).map(
        (f) => html`<label>${LABELS[f]}<select name=${f} value=${params.get(f) ?? ''}>
          <option value="">any</option>
          ${ENUMS[f].map((v) => html`<option value=${v}>${v}</option>`)}
        </select></label>`,
      )}
    </div>
    <div class="range">
      <label>Time range<select name="range" value=${absolute ? 'custom' : (params.get('range') ?? DEFAULT_RANGE)}>
        ${QUICK_RANGES.map((r) => html`<option value=${r.id}>${r.label}</option>`)}
        <option value="custom">Custom (from/to)</option>
      </select></label>
      <label>From (ISO 8601)<input name="from" value=${params.get('from') ?? ''} placeholder="2026-01-10T00:00:00Z" /></label>
      <label>To<input name="to" value=${params.get('to') ?? ''} placeholder="2026-01-11T00:00:00Z" /></label>
      <button type="submit">Search</button>
    </div>
  </form>`;
}

/** Saves a blob as a file through a temporary link (the export needs the bearer header, so no plain link). */
function save(blob: Blob, name: string): void {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

type Manifest = { state: 'none' } | { state: 'ready'; href: string } | { state: 'unavailable'; message: string };

/** Streams GET /v1/export and saves it as a file, then offers its signed manifest (X-Manifest-Url). */
function ExportButtons(props: { filters: URLSearchParams }) {
  const [state, setState] = useState('');
  const [manifest, setManifest] = useState<Manifest>({ state: 'none' });
  const run = async (format: 'ndjson' | 'csv') => {
    const p = new URLSearchParams(props.filters);
    p.set('format', format);
    setState('Exporting…');
    setManifest((m) => {
      if (m.state === 'ready') URL.revokeObjectURL(m.href);
      return { state: 'none' };
    });
    try {
      const res = await request(`/v1/export?${p}`);
      const reader = res.body?.getReader();
      const parts: Uint8Array[] = [];
      let bytes = 0;
      while (reader) {
        const { done, value } = await reader.read();
        if (done) break;
        parts.push(value);
        bytes += value.length;
        setState(`Exporting… ${(bytes / 1024).toFixed(0)} KiB`);
      }
      save(
        new Blob(parts as BlobPart[], { type: format === 'csv' ? 'text/csv' : 'application/x-ndjson' }),
        `auditstream-export.${format === 'csv' ? 'csv' : 'ndjson'}`,
      );
      setState(`Exported ${(bytes / 1024).toFixed(0)} KiB`);
      // The manifest exists only once the body is complete, so it is asked for after the stream ends.
      const manifestUrl = res.headers.get('x-manifest-url');
      if (!manifestUrl) {
        setManifest({ state: 'unavailable', message: 'The API named no manifest for this export.' });
        return;
      }
      try {
        const m = await request(manifestUrl);
        setManifest({ state: 'ready', href: URL.createObjectURL(new Blob([await m.text()], { type: 'application/json' })) });
      } catch (err) {
        const e = err as ApiError;
        setManifest({
          state: 'unavailable',
          message: e.status === 501 ? 'No signed manifest: the API has no manifest signing key configured.' : `Manifest unavailable: ${e.message}`,
        });
      }
    } catch (err) {
      setState(`Export failed: ${(err as Error).message}`);
    }
  };
  return html`<span class="export">
    <button type="button" onClick=${() => run('ndjson')}>Export NDJSON</button>
    <button type="button" onClick=${() => run('csv')}>Export CSV</button>
    <span aria-live="polite">${state}</span>
    ${
      manifest.state === 'ready' &&
      html`<span data-testid="manifest">
        <a href=${manifest.href} download="auditstream-export.manifest.json">Download signed manifest</a>
        <span> Check it with <code>${'auditstream export verify <file> <manifest>'}</code></span>
      </span>`
    }
    ${manifest.state === 'unavailable' && html`<span data-testid="manifest-unavailable" role="status">${manifest.message}</span>`}
  </span>`;
}
