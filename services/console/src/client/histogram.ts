import { useRef, useState } from 'preact/hooks';
import type { Timeseries } from './api.js';
import { html } from './router.js';

const W = 1000;
const H = 120;

/**
 * Events over time as bars (plain SVG: a bar chart with a brush is ~80 lines, smaller than any
 * chart library). Drag across it to zoom the search to that span (snapped to whole buckets).
 */
export function Histogram(props: { from: string; to: string; data: Timeseries | undefined; onZoom: (from: string, to: string) => void }) {
  const from = Date.parse(props.from);
  const to = Date.parse(props.to);
  const span = Math.max(1, to - from);
  const step = (props.data?.interval_s ?? 3600) * 1000;
  const points = props.data?.series[0]?.points ?? [];
  const max = Math.max(1, ...points.map((p) => p.count));
  const svg = useRef<SVGSVGElement>(null);
  const [sel, setSel] = useState<{ a: number; b: number } | null>(null);

  const frac = (e: PointerEvent) => {
    const r = svg.current?.getBoundingClientRect();
    if (!r || r.width === 0) return 0;
    return Math.min(1, Math.max(0, (e.clientX - r.left) / r.width));
  };
  const down = (e: PointerEvent) => {
    (e.currentTarget as Element).setPointerCapture(e.pointerId);
    const f = frac(e);
    setSel({ a: f, b: f });
  };
  const move = (e: PointerEvent) => sel && setSel({ a: sel.a, b: frac(e) });
  const up = () => {
    if (!sel) return;
    const lo = Math.min(sel.a, sel.b);
    const hi = Math.max(sel.a, sel.b);
    setSel(null);
    if (hi - lo < 0.005) return; // a click, not a drag
    const snap = (t: number, up: boolean) => (up ? Math.ceil(t / step) : Math.floor(t / step)) * step;
    const zf = Math.max(from, snap(from + lo * span, false));
    const zt = Math.min(to, snap(from + hi * span, true));
    if (zt > zf) props.onZoom(new Date(zf).toISOString(), new Date(zt).toISOString());
  };
  const bw = Math.max(1, (step / span) * W - 1);
  return html`<figure class="histogram">
    <svg ref=${svg} viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" role="img"
      aria-label=${`Events over time, ${points.length} buckets of ${props.data?.interval ?? ''}; drag to zoom`}
      onPointerDown=${down} onPointerMove=${move} onPointerUp=${up} data-testid="histogram">
      ${points.map((p) => {
        const x = ((Date.parse(p.t) - from) / span) * W;
        const h = (p.count / max) * (H - 4);
        return html`<rect class="bar" x=${x} y=${H - h} width=${bw} height=${h}><title>${p.t}: ${p.count}</title></rect>`;
      })}
      ${sel && html`<rect class="brush" x=${Math.min(sel.a, sel.b) * W} y="0" width=${Math.abs(sel.b - sel.a) * W} height=${H} />`}
    </svg>
    <figcaption><span>${new Date(from).toISOString().slice(0, 16).replace('T', ' ')}</span><span>${new Date(to).toISOString().slice(0, 16).replace('T', ' ')} UTC</span></figcaption>
  </figure>`;
}
