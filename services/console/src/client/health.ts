import type { PipelineHealth, PipelineHealthSource as Source } from '@auditstream/schemas';
import { getJson } from './api.js';
import { html, useLoad } from './router.js';

const num = (v: number | null | undefined) => (v === null || v === undefined ? '–' : v.toLocaleString('en'));

function SourceState(props: { s: Source; what: string }) {
  return props.s.reachable
    ? html`<p class="ok">${props.what}: reachable</p>`
    : html`<p class="error" data-testid="unreachable">${props.what}: not reachable (${props.s.error})</p>`;
}

function Pairs(props: { caption: string; rows: Record<string, number>; testid: string }) {
  const entries = Object.entries(props.rows);
  return html`<table data-testid=${props.testid}><caption>${props.caption}</caption>
    <thead><tr><th scope="col">Class</th><th scope="col">Count</th></tr></thead>
    <tbody>${entries.length === 0 ? html`<tr><td colspan="2" class="muted">none</td></tr>` : entries.map(([k, v]) => html`<tr><td>${k}</td><td>${num(v)}</td></tr>`)}</tbody>
  </table>`;
}

/** Ingest lag, dead letters by class, alert delivery failures (GET /v1/health/pipeline: the services' own metrics and Kafka). */
export function HealthPage() {
  const h = useLoad('health', () => getJson<PipelineHealth>('/v1/health/pipeline'));
  if (h.error) return html`<p class="error" role="alert">${h.error.message}</p>`;
  if (!h.data) return html`<p>Loading…</p>`;
  const { ingest_lag: lag, ingest, alerting } = h.data;
  return html`<section aria-labelledby="health-h">
    <h1 id="health-h">Pipeline health</h1>
    <p class="muted">Checked ${h.data.checked_at}</p>
    <div class="detail-grid">
      <section><h2>Ingest lag</h2><${SourceState} s=${lag} what="Kafka" />
        <p>Topic <code>${lag.topic}</code>, group <code>${lag.group}</code>: <strong data-testid="lag-total">${num(lag.total)}</strong> events behind</p>
        <table><thead><tr><th scope="col">Partition</th><th scope="col">Lag</th></tr></thead>
          <tbody>${lag.partitions.map((p) => html`<tr><td>${p.partition}</td><td>${num(p.lag)}</td></tr>`)}</tbody></table>
      </section>
      <section><h2>Ingest</h2><${SourceState} s=${ingest} what="Ingest metrics" />
        <p>Received ${num(ingest.received_events_total)}, stored ${num(ingest.inserted_events_total)}, dead-lettered <strong data-testid="dlq-total">${num(ingest.dead_lettered_total)}</strong></p>
        <${Pairs} caption="Dead letters by class" rows=${ingest.dead_lettered_by_class} testid="dlq-classes" />
      </section>
      <section><h2>Alert delivery</h2><${SourceState} s=${alerting} what="Alerting metrics" />
        <p>Failed attempts <strong data-testid="delivery-failures">${num(alerting.delivery_failures_total)}</strong>, queued ${num(alerting.queue_depth)}</p>
        <${Pairs} caption="Failures by sink" rows=${alerting.delivery_failures_by_sink} testid="failures-by-sink" />
        <${Pairs} caption="Deliveries by result" rows=${alerting.deliveries_by_result} testid="deliveries" />
      </section>
    </div>
  </section>`;
}
