import type { ApiAlert as Alert, PartitionCheckpoint as Checkpoint, MaskReason } from '@auditstream/schemas';
import { useState } from 'preact/hooks';
import { type ApiEvent, getJson, postJson, type Timeseries } from './api.js';
import { Histogram } from './histogram.js';
import { Masked, maskedOf } from './masked.js';
import { go, html, Link, useLoad } from './router.js';
import { stableNow } from './search.js';
import { apiFilters, resolveRange, withParams } from './state.js';
import { EventTable } from './table.js';

/** Field rows; `prefix` + key is the path ApiEvent.masked names, whose values show as a badge. */
function Fields(props: { title: string; rows: [string, unknown][]; masked?: Map<string, MaskReason>; prefix?: string }) {
  const value = (k: string, v: unknown) => {
    const path = `${props.prefix ?? ''}${k}`;
    const reason = props.masked?.get(path);
    if (reason) return html`<${Masked} path=${path} reason=${reason} />`;
    return v === null || v === undefined || v === '' ? html`<span class="muted">–</span>` : String(v);
  };
  return html`<section class="fields-list"><h2>${props.title}</h2><dl>
    ${props.rows.map(([k, v]) => html`<div><dt>${k}</dt><dd>${value(k, v)}</dd></div>`)}
  </dl></section>`;
}

/** Every field of one event, its enrichment and its place in its partition's chain. */
export function EventPage(props: { id: string; params: URLSearchParams; searchPath: string; embed?: boolean }) {
  const tenant = props.params.get('tenant');
  const q = new URLSearchParams(tenant ? { tenant } : {});
  const ev = useLoad(`${props.id}?${q}`, () => getJson<ApiEvent>(`/v1/events/${encodeURIComponent(props.id)}`, q));
  const check = useLoad(`v${props.id}?${q}`, () => getJson<Verification>(`/v1/events/${encodeURIComponent(props.id)}/verify`, q));
  if (ev.error) return html`<p class="error" role="alert">${ev.error.message}</p>`;
  if (!ev.data) return html`<p>Loading…</p>`;
  const e = ev.data;
  const m = maskedOf(e);
  const search = (k: string, v: string) => {
    const p = new URLSearchParams(props.embed ? { [k]: v, range: '7d' } : { tenant: e.tenant_id, [k]: v, range: '7d' });
    return `${props.searchPath}?${p}`;
  };
  return html`<article aria-labelledby="ev-h">
    <h1 id="ev-h">Event <code>${e.event_id}</code></h1>
    <${IntegrityMark} check=${check} />
    <p class="pivots">Search this
      ${' '}<${Link} href=${search('actor_id', e.actor.id)}>actor<//>,
      ${' '}<${Link} href=${search('action', e.action)}>action<//>
      ${e.resource && html`, <${Link} href=${search('resource_id', e.resource.id)}>resource<//>`}
      ${e.actor.ip && !m.has('actor.ip') && html`, <${Link} href=${search('source_ip', e.actor.ip)}>IP<//>`}
      ${e.actor.session_id && !m.has('actor.session_id') && html`, <${Link} class="session" href=${search('session_id', e.actor.session_id)}>session<//>`}
      ${!props.embed && html` · <${Link} href=${`/console/actors/${encodeURIComponent(e.actor.id)}?tenant=${encodeURIComponent(e.tenant_id)}`}>actor page<//>`}
    </p>
    <div class="detail-grid">
      <${Fields} title="Event" rows=${[
        ['event_id', e.event_id],
        ['tenant_id', e.tenant_id],
        ['occurred_at', e.occurred_at],
        ['action', e.action],
        ['category', e.category],
        ['outcome', e.outcome],
        ['reason', e.reason],
        ['severity', e.severity],
        ['service', e.service],
        ['host', e.host],
        ['region', e.region],
        ['request_id', e.request_id],
        ['trace_id', e.trace_id],
      ]} masked=${m} />
      <${Fields} title="Actor" rows=${Object.entries(e.actor)} masked=${m} prefix="actor." />
      <${Fields} title="Resource" rows=${e.resource ? Object.entries(e.resource) : []} masked=${m} prefix="resource." />
      <${Fields} title="Attributes" rows=${Object.entries(e.attributes)} masked=${m} prefix="attributes." />
      <${Fields} title="Enrichment" rows=${Object.entries(e.enrichment)} />
      <${Fields} title="Chain place" rows=${Object.entries(e.integrity ?? {})} />
    </div>
  </article>`;
}

interface Verification {
  status: 'verified' | 'tampered' | 'unverified_yet' | 'unchained';
  reason: string | null;
  checkpoint: { last_offset: string; created_at: string; key_id: string } | null;
}

const MARKS: Record<Verification['status'], [string, string]> = {
  verified: ['verified', 'its chain link and the covering signed checkpoint check out'],
  tampered: ['tampered', ''],
  unverified_yet: ['not yet verifiable', 'no signed checkpoint covers it yet'],
  unchained: ['unchained', 'stored with integrity off'],
};

/** The event's integrity status (GET /v1/events/{id}/verify). */
function IntegrityMark(props: { check: { data?: Verification; error?: Error; loading: boolean } }) {
  const { data, error } = props.check;
  if (error) return html`<p class="muted" data-testid="integrity-mark">Integrity: ${error.message}</p>`;
  if (!data) return html`<p class="muted">Checking integrity…</p>`;
  const [label, why] = MARKS[data.status];
  return html`<p data-testid="integrity-mark" data-status=${data.status}>
    <span class=${`mark ${data.status === 'verified' ? 'verified' : data.status === 'tampered' ? 'tampered' : 'pending'}`}>${label}</span>
    ${' '}${data.reason ?? why}${data.checkpoint ? ` (checkpoint through offset ${data.checkpoint.last_offset}, ${data.checkpoint.created_at})` : ''}
  </p>`;
}

/** One actor: their events over time, their top actions and their latest events. */
export function ActorPage(props: { id: string; params: URLSearchParams }) {
  const p = new URLSearchParams(props.params);
  p.set('actor_id', props.id);
  if (!p.get('range') && !p.get('from')) p.set('range', '7d');
  const now = stableNow(location.search);
  const filters = apiFilters(p, now);
  const range = resolveRange(p, now);
  const ts = new URLSearchParams(filters);
  ts.set('interval', '1h');
  if (p.get('range') === '30d' || p.get('range') === '7d') ts.set('interval', '6h');
  const timeline = useLoad(`t${ts}`, () => getJson<Timeseries>('/v1/stats/timeseries', ts));
  const top = new URLSearchParams(filters);
  top.set('interval', '1d');
  top.set('group_by', 'action');
  top.set('groups', '10');
  const actions = useLoad(`a${top}`, () => getJson<Timeseries>('/v1/stats/timeseries', top));
  const latest = new URLSearchParams(filters);
  latest.set('limit', '20');
  const events = useLoad(`e${latest}`, () => getJson<{ data: ApiEvent[] }>('/v1/events', latest));
  return html`<section aria-labelledby="actor-h">
    <h1 id="actor-h">Actor <code>${props.id}</code></h1>
    <p><${Link} href=${withParams(p, {})}>Search all their events<//></p>
    <${Histogram} from=${range.from} to=${range.to} data=${timeline.data}
      onZoom=${(from: string, to: string) => go(withParams(props.params, { from, to, range: undefined }, location.pathname))} />
    <h2>Top actions</h2>
    <table class="top" data-testid="top-actions"><thead><tr><th scope="col">Action</th><th scope="col">Events</th></tr></thead>
      <tbody>${(actions.data?.series ?? []).map((s) => html`<tr><td><${Link} href=${withParams(p, { action: s.group ?? '' })}>${s.group}<//></td><td>${s.total}</td></tr>`)}</tbody>
    </table>
    <h2>Latest events</h2>
    ${events.data && html`<${EventTable} events=${events.data.data} params=${p} />`}
  </section>`;
}

/** The alert history: severity, rule, group, sample events and the search that reproduces it. */
export function AlertsPage(props: { params: URLSearchParams }) {
  const now = stableNow(location.search);
  const { from, to } = resolveRange(new URLSearchParams({ range: props.params.get('range') ?? '7d' }), now);
  const q = new URLSearchParams({ from, to, limit: '200' });
  const alerts = useLoad(q.toString(), () => getJson<{ data: Alert[] }>('/v1/alerts', q));
  const reproduce = (a: Alert) => {
    // The alert's window: from an hour before it fired to a minute after its last update, its tenant.
    const p = new URLSearchParams({
      tenant: a.tenant_id,
      from: new Date(Date.parse(a.fired_at) - 3_600_000).toISOString(),
      to: new Date(Date.parse(a.updated_at) + 60_000).toISOString(),
    });
    for (const k of ['action', 'actor_id', 'source_ip', 'resource_id']) if (typeof a.details[k] === 'string') p.set(k, a.details[k] as string);
    return `/console/search?${p}`;
  };
  return html`<section aria-labelledby="alerts-h">
    <h1 id="alerts-h">Alerts</h1>
    ${alerts.error && html`<p class="error" role="alert">${alerts.error.message}</p>`}
    <table class="alerts" data-testid="alerts"><thead><tr>
      <th scope="col">Fired (UTC)</th><th scope="col">Severity</th><th scope="col">Rule</th><th scope="col">Group</th><th scope="col">Tenant</th><th scope="col">Status</th><th scope="col">Sample events</th><th scope="col">Search</th>
    </tr></thead><tbody>
      ${(alerts.data?.data ?? []).map(
        (a) => html`<tr data-alert-id=${a.alert_id}>
          <td>${a.fired_at.replace('T', ' ').slice(0, 19)}</td><td class=${`sev-${a.severity}`}>${a.severity}</td><td>${a.rule_id}</td>
          <td>${String(a.details.group_key ?? a.title)}</td><td>${a.tenant_id}</td><td>${a.status}</td>
          <td>${a.event_ids.slice(0, 5).map((id, i) => html`${i ? ' ' : ''}<${Link} class="sample" href=${`/console/events/${id}?tenant=${encodeURIComponent(a.tenant_id)}`}>${id.slice(-6)}<//>`)}</td>
          <td><${Link} class="reproduce" href=${reproduce(a)}>events<//></td>
        </tr>`,
      )}
    </tbody></table>
    ${alerts.data && alerts.data.data.length === 0 && html`<p>No alerts in the last 7 days.</p>`}
  </section>`;
}

interface Report {
  status: string;
  checked_at: string;
  from: string | null;
  to: string | null;
  events_checked: number;
  checkpoints_checked: number;
  failures: { kind: string; detail: string; partition?: number; offset?: string }[];
}

/** The latest checkpoints per partition, the latest verification, and "verify this range". */
export function IntegrityPage() {
  const [report, setReport] = useState<Report | { error: string } | null>(null);
  const cps = useLoad('checkpoints', () => getJson<{ data: Checkpoint[] }>('/v1/integrity/checkpoints'));
  const latest = useLoad('latest', () => postJson<Report>('/v1/integrity/verify', { latest: true }));
  const verify = async (e: Event) => {
    e.preventDefault();
    const d = new FormData(e.currentTarget as HTMLFormElement);
    setReport(null);
    try {
      setReport(await postJson<Report>('/v1/integrity/verify', { from: d.get('from'), to: d.get('to') }));
    } catch (err) {
      setReport({ error: (err as Error).message });
    }
  };
  const show = (r: Report | { error: string } | null | undefined, label: string) => {
    if (!r) return null;
    if ('error' in r) return html`<p class="error" role="alert">${label}: ${r.error}</p>`;
    return html`<${Fields} title=${label} rows=${[
      ['status', r.status],
      ['checked_at', r.checked_at],
      ['range', `${r.from ?? '–'} → ${r.to ?? '–'}`],
      ['events checked', r.events_checked],
      ['checkpoints checked', r.checkpoints_checked],
      ...r.failures.map((f, i): [string, unknown] => [`failure ${i + 1}`, `${f.kind}: ${f.detail}`]),
    ]} />`;
  };
  const day = new Date(Date.now() - 86_400_000).toISOString();
  return html`<section aria-labelledby="int-h">
    <h1 id="int-h">Integrity</h1>
    <form class="verify" onSubmit=${verify}>
      <label>From<input name="from" value=${day} /></label>
      <label>To<input name="to" value=${new Date().toISOString()} /></label>
      <button type="submit">Verify this range</button>
    </form>
    <div data-testid="verify-report">${show(report, 'Verification')}</div>
    <h2>Latest signed checkpoint per partition</h2>
    ${cps.error && html`<p class="error">${cps.error.message}</p>`}
    <table data-testid="checkpoints"><thead><tr>
      <th scope="col">Topic</th><th scope="col">Partition</th><th scope="col">Through offset</th><th scope="col">chain_seq</th>
      <th scope="col">Chain head</th><th scope="col">Signed (UTC)</th><th scope="col">Key</th><th scope="col">Checkpoints</th>
    </tr></thead><tbody>
      ${(cps.data?.data ?? []).map(
        (c) => html`<tr data-topic=${c.topic} data-partition=${c.partition}>
          <td>${c.topic}</td><td>${c.partition}</td><td class="offset">${c.last_offset}</td><td>${c.chain_seq}</td>
          <td><code>${c.chain_head.slice(0, 16)}…</code></td><td>${c.created_at.replace('T', ' ').slice(0, 19)}</td><td><code>${c.key_id.slice(0, 12)}</code></td><td>${c.checkpoints}</td>
        </tr>`,
      )}
    </tbody></table>
    ${latest.error ? html`<p>Latest verification: ${latest.error.message}</p>` : show(latest.data, 'Latest verification')}
  </section>`;
}
