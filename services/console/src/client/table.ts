import type { MaskReason } from '@auditstream/schemas';
import type { ApiEvent } from './api.js';
import { Masked, maskedOf } from './masked.js';
import { html, Link } from './router.js';
import { withParams } from './state.js';

/** A value that filters the current search on click (a pivot); a withheld value is a badge, not a pivot. */
export function Pivot(props: {
  params: URLSearchParams;
  name: string;
  value: string | null | undefined;
  label?: string;
  path?: string;
  masked?: [string, MaskReason | undefined];
}) {
  if (props.masked?.[1]) return html`<${Masked} path=${props.masked[0]} reason=${props.masked[1]} />`;
  if (!props.value) return html`<span class="muted">–</span>`;
  const extra: Record<string, string | undefined> = { [props.name]: props.value };
  if (props.name === 'action') extra.action_prefix = undefined;
  return html`<${Link} class="pivot" href=${withParams(props.params, extra, props.path)} title=${`Filter on ${props.name} = ${props.value}`}>${props.label ?? props.value}<//>`;
}

export function eventHref(e: ApiEvent, base = '/console/events'): string {
  return `${base}/${encodeURIComponent(e.event_id)}?tenant=${encodeURIComponent(e.tenant_id)}`;
}

/** The results table: time links to the detail; actor, action, resource, IP and session are pivots. */
export function EventTable(props: { events: ApiEvent[]; params: URLSearchParams; detailBase?: string; showTenant?: boolean; searchPath?: string }) {
  const p = props.params;
  const sp = props.searchPath;
  return html`<table class="events" data-testid="results">
    <thead><tr>
      <th scope="col">Time (UTC)</th>${props.showTenant !== false && html`<th scope="col">Tenant</th>`}<th scope="col">Actor</th><th scope="col">Action</th>
      <th scope="col">Outcome</th><th scope="col">Severity</th><th scope="col">Resource</th><th scope="col">Source IP</th><th scope="col">Session</th>
    </tr></thead>
    <tbody>
      ${props.events.map((e) => {
        const m = maskedOf(e);
        return html`<tr key=${e.event_id} data-event-id=${e.event_id}>
          <td><${Link} href=${eventHref(e, props.detailBase)} class="time">${e.occurred_at.replace('T', ' ').slice(0, 23)}<//></td>
          ${props.showTenant !== false && html`<td><${Pivot} params=${p} path=${sp} name="tenant" value=${e.tenant_id} /></td>`}
          <td><${Pivot} params=${p} path=${sp} name="actor_id" value=${e.actor.id} /></td>
          <td><${Pivot} params=${p} path=${sp} name="action" value=${e.action} /></td>
          <td class=${`outcome-${e.outcome}`}>${e.outcome}</td>
          <td class=${`sev-${e.severity}`}>${e.severity}</td>
          <td>${e.resource ? html`<${Pivot} params=${p} path=${sp} name="resource_id" value=${e.resource.id} label=${`${e.resource.type}/${e.resource.id}`} />` : html`<span class="muted">–</span>`}</td>
          <td><${Pivot} params=${p} path=${sp} name="source_ip" value=${e.actor.ip} masked=${['actor.ip', m.get('actor.ip')]} /></td>
          <td><${Pivot} params=${p} path=${sp} name="session_id" value=${e.actor.session_id} masked=${['actor.session_id', m.get('actor.session_id')]} /></td>
        </tr>`;
      })}
    </tbody>
  </table>`;
}
